"""The HAPI status table against the specification's section 4.2, and the error body."""

import pytest

from socstack.hapi.status import HapiError, HapiStatus

# HAPI 3.3.1, section 4.2: (HTTP status, HAPI code, message).
SPECIFICATION = [
    (200, 1200, "OK"),
    (200, 1201, "OK - no data for time range"),
    (400, 1400, "Bad request - user input error"),
    (400, 1401, "Bad request - unknown API parameter name"),
    (400, 1402, "Bad request - syntax error in start time"),
    (400, 1403, "Bad request - syntax error in stop time"),
    (400, 1404, "Bad request - start equal to or after stop"),
    (400, 1405, "Bad request - start < startDate and/or stop > stopDate"),
    (404, 1406, "Bad request - unknown dataset id"),
    (404, 1407, "Bad request - unknown dataset parameter"),
    (400, 1408, "Bad request - too much time or data requested"),
    (400, 1409, "Bad request - unsupported output format"),
    (400, 1410, "Bad request - unsupported include value"),
    (400, 1411, "Bad request - out-of-order or duplicate parameters"),
    (400, 1412, "Bad request - unsupported resolve_references value"),
    (400, 1413, "Bad request - unsupported depth value"),
    (500, 1500, "Internal server error"),
    (500, 1501, "Internal server error - upstream request error"),
]


def test_the_table_is_the_specification() -> None:
    ours = sorted((s.http, s.code, s.message) for s in HapiStatus)
    assert ours == sorted(SPECIFICATION)


@pytest.mark.parametrize(("http", "code", "message"), SPECIFICATION)
def test_bodies(http: int, code: int, message: str) -> None:
    status = next(s for s in HapiStatus if s.code == code)
    body = status.body("detail")
    assert body["code"] == code
    expected = f"{message}: detail" if code < 1400 else f"HAPI error {code}: {message}: detail"
    assert body["message"] == expected
    if code >= 1400:
        assert str(HapiError(status, "detail")) == expected
