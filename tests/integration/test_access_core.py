"""Access's core on both catalogs: tokens, identities, releases and approvals, visibility."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import pytest

from socstack._exceptions import AccessDenied, AuthenticationError, SocError, TooManyFailures
from socstack.access import SYSTEM, Action
from socstack.access.credentials import credentials, identify
from socstack.access.intervals import ALL, NONE, ns
from socstack.access.redact import RedactTokens, redact
from socstack.catalog.accounts import ReleaseKind
from socstack.catalog.migrate import upgrade
from socstack.catalog.models import utcnow
from socstack.config import Settings, get_settings
from socstack.mission.release import Policy
from socstack.runtime import Runtime

DAY = dt.timedelta(days=1)


@pytest.fixture
def rt(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("SOC_TOKEN_CACHE_SECONDS", "0")
    monkeypatch.setenv("SOC_RELEASE_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    upgrade(runtime.catalog)
    yield runtime
    runtime.close()


def person(rt: Runtime, name: str, groups: list[str], scopes: list[str]) -> str:
    rt.access.accounts.add_user(name, groups, actor="test")
    return rt.access.accounts.create_token(name, scopes, actor="test")[1]


def test_a_token_is_kept_as_a_hash_and_checked_to_its_identity(rt: Runtime) -> None:
    text = person(rt, "ann", ["demo", "demo:mag"], ["read", "upload"])
    who = rt.access.accounts.identify(text)
    assert (who.name, who.groups, who.scopes) == (
        "ann",
        frozenset({"demo", "demo:mag"}),
        frozenset({"read", "upload"}),
    )
    with rt.catalog.engine.connect() as connection:
        stored = [tuple(r) for r in connection.exec_driver_sql("SELECT * FROM tokens")]
    secret = text.split("_", 2)[2]  # the part after soc_<id>_ (it may hold "_" itself)
    assert not any(text in str(r) or secret in str(r) for r in stored)


@pytest.mark.parametrize(
    "damage",
    ["malformed", "wrong secret", "expired", "revoked", "disabled user"],
)
def test_bad_tokens_are_refused(rt: Runtime, damage: str) -> None:
    accounts = rt.access.accounts
    accounts.add_user("bob", ["demo"], actor="test")
    info, text = accounts.create_token("bob", ["read"], actor="test", expires_at=utcnow() + DAY)
    if damage == "malformed":
        text = text[:-3]
    elif damage == "wrong secret":
        text = text[:-1] + ("A" if text[-1] != "A" else "B")
    elif damage == "expired":
        with rt.catalog.transaction() as session:
            from socstack.catalog.accounts import Token

            session.get(Token, info.id).expires_at = utcnow() - dt.timedelta(seconds=1)
    elif damage == "revoked":
        accounts.revoke(info.id, actor="test")
    else:
        accounts.disable("bob", actor="test")
    with pytest.raises(AuthenticationError) as caught:
        accounts.identify(text)
    assert text not in str(caught.value)


def test_failed_authentications_are_limited_per_client(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt.access.failures.per_minute = 3
    bad = "soc_0123456789abcdef_" + "x" * 43
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            identify(rt.access, bad, "10.0.0.9")
    with pytest.raises(TooManyFailures) as caught:
        identify(rt.access, bad, "10.0.0.9")
    assert 0 < caught.value.retry_after <= 61
    assert identify(rt.access, None, "10.0.0.10").anonymous, "other clients are not held"


def test_credentials_come_as_bearer_basic_or_the_cookie() -> None:
    import base64

    token = "soc_0123456789abcdef_" + "y" * 43
    assert credentials({"authorization": f"Bearer {token}"}) == token
    basic = base64.b64encode(f"token:{token}".encode()).decode()
    assert credentials({"authorization": f"Basic {basic}"}) == token
    assert credentials({}, {"socstack_token": token}) == token
    assert credentials({}) is None
    with pytest.raises(AuthenticationError):
        credentials({"authorization": "Digest abc"})


def test_no_token_reaches_a_log(caplog: pytest.LogCaptureFixture) -> None:
    token = "soc_0123456789abcdef_" + "z" * 43
    logger = logging.getLogger("socstack.test.redact")
    handler = logging.StreamHandler()
    caplog.handler.addFilter(RedactTokens())
    with caplog.at_level(logging.INFO, logger="socstack.test.redact"):
        logger.info("request with %s and Authorization: Bearer %s", token, token)
        try:
            raise ValueError(f"bad {token}")
        except ValueError:
            logger.exception("failed")
    del handler
    text = caplog.text
    assert token not in text and "z" * 20 not in text
    assert "[redacted]" in text
    assert (
        redact(f"Cookie: socstack_token={token}; x=1") == "Cookie: socstack_token=[redacted]; x=1"
    )


def test_an_early_release_needs_the_instrument_and_the_project(rt: Runtime) -> None:
    access = rt.access
    mission = rt.missions.mission("demo")
    mission.release.policies = [
        Policy(products=["sw_l2", "pls_l2"], public="always"),
        Policy(levels=["l2", "ql"], public="release", latency="P30D"),
    ]
    person(rt, "mo", ["demo", "demo:mag"], ["read", "release"])
    person(rt, "pi", ["demo", "demo:project"], ["read", "release"])
    person(rt, "pat", ["demo", "demo:pls"], ["read", "release"])
    mo = access.accounts.identify(access.accounts.tokens("mo")[0].id and _token(rt, "mo"))
    pi = access.accounts.identify(_token(rt, "pi"))
    pat = access.accounts.identify(_token(rt, "pat"))
    now = utcnow()
    recent = (now - 3 * DAY, now - 2 * DAY)
    with pytest.raises(AccessDenied):
        access.releases.request(
            pat, mission="demo", product="mag_l2", start=recent[0], stop=recent[1], reason="x"
        )
    release = access.releases.request(
        mo, mission="demo", product="mag_l2", start=recent[0], stop=recent[1], reason="storm"
    )
    assert (release.early, release.status, release.waiting_for) == (
        True,
        "pending",
        ["instrument", "project"],
    )
    anonymous = access.visible(SYSTEM.__class__(None, scopes=frozenset({"read"})), "demo", "mag_l2")
    assert anonymous == NONE
    with pytest.raises(AccessDenied):
        access.releases.approve(mo, release.id, "project")  # not in demo:project
    admin = access.accounts.identify(person(rt, "root", ["admins"], ["read", "release", "admin"]))
    access.releases.approve(admin, release.id, "instrument")
    with pytest.raises(SocError, match="approved as instrument already"):
        access.releases.approve(mo, release.id, "instrument")
    with pytest.raises(SocError, match="two different people"):
        access.releases.approve(admin, release.id, "project")
    assert access.releases.get(release.id).status == "pending"
    access.releases.approve(pi, release.id, "project")
    done = access.releases.get(release.id)
    assert done.status == "effective" and done.approvals == {"instrument": "root", "project": "pi"}
    public = access.visible(SYSTEM.__class__(None, scopes=frozenset({"read"})), "demo", "mag_l2")
    assert public == ((ns(recent[0]), ns(recent[1])),)
    access.releases.request(
        mo,
        mission="demo",
        product="mag_l2",
        start=recent[0],
        stop=recent[0] + dt.timedelta(hours=6),
        reason="bad calibration",
        kind=ReleaseKind.UNRELEASE,
    )
    assert access.visible(SYSTEM.__class__(None, scopes=frozenset({"read"})), "demo", "mag_l2") == (
        (ns(recent[0] + dt.timedelta(hours=6)), ns(recent[1])),
    )
    # The combined level 2, public always, is no more public than the field it is made from.
    sw = access.visible(SYSTEM.__class__(None, scopes=frozenset({"read"})), "demo", "sw_l2")
    assert sw == ((ns(recent[0] + dt.timedelta(hours=6)), ns(recent[1])),)
    team = access.visible(mo, "demo", "mag_l2")
    assert team == ALL


def _token(rt: Runtime, name: str) -> str:
    # A second token of the user: the first's text was only shown once.
    return rt.access.accounts.create_token(name, ["read", "release"], actor="test")[1]


def test_who_may_upload_run_and_administer(rt: Runtime) -> None:
    access = rt.access
    mag = access.accounts.identify(person(rt, "m", ["demo", "demo:mag"], ["read", "upload"]))
    ops = access.accounts.identify(person(rt, "o", ["operators"], ["read", "run"]))
    admin = access.accounts.identify(person(rt, "a", ["admins"], ["read", "admin"]))
    upload = Action.UPLOAD
    assert access.authorize(mag, upload, mission="demo", product="mag_l0")
    refused = access.authorize(mag, upload, mission="demo", product="pls_l0")
    assert not refused and refused.status == 403
    assert access.authorize(ops, Action.RUN, mission="demo")
    assert not access.authorize(mag, Action.RUN, mission="demo")
    assert access.authorize(admin, Action.ADMIN)
    assert not access.authorize(ops, Action.ADMIN)
    anonymous = access.authorize(SYSTEM.__class__(None), Action.RUN, mission="demo")
    assert anonymous.status == 401


def test_the_first_admin_is_made_once(rt: Runtime) -> None:
    text = rt.access.accounts.ensure_admin(None, actor="test")
    assert text is not None and rt.access.accounts.identify(text).admin
    assert rt.access.accounts.ensure_admin(None, actor="test") is None


def test_a_json_web_token_of_the_identity_provider_signs_a_user_in(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import time

    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    for name, value in {
        "SOC_OIDC_JWKS": str(jwks),
        "SOC_OIDC_ISSUER": "https://idp.example",
        "SOC_OIDC_AUDIENCE": "socstack",
        "SOC_DATA_DIR": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    upgrade(runtime.catalog)

    def signed(**claims: object) -> str:
        header = {"alg": "RS256", "kid": "test-key"}
        base = {
            "iss": "https://idp.example",
            "aud": "socstack",
            "sub": "u-1",
            "preferred_username": "carol",
            "exp": int(time.time()) + 300,
            "groups": ["demo", "demo:pls", "some-other-app"],
        }
        return jwt.encode(header, {**base, **claims}, key)

    who = identify(runtime.access, signed(), "c")
    assert (who.name, who.groups, who.scopes, who.via) == (
        "oidc:carol",
        frozenset({"demo", "demo:pls"}),
        frozenset({"read"}),
        "oidc",
    )
    for bad in (
        signed(exp=int(time.time()) - 3600),
        signed(iss="https://elsewhere"),
        signed(aud="another-service"),
    ):
        with pytest.raises(AuthenticationError):
            identify(runtime.access, bad, "c")
    other = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    forged = jwt.encode({"alg": "RS256", "kid": "test-key"}, {"sub": "x"}, other)
    with pytest.raises(AuthenticationError):
        identify(runtime.access, forged, "c")
    runtime.close()
