"""The Compose ingress's nginx.conf: parsed by NGINX's own parser (crossplane) and
analysed by gixy-next, which knows nginx's traps (dropped headers, spoofable Host, ...).

There is no nginx binary here to run ``nginx -t``; crossplane's strict mode knows every
directive and where it may appear, so a typo, a missing semicolon or a directive in the
wrong block fails. (Its strict mode takes a ``map`` block's entries for directives, so
``default`` and ``''`` are named as known.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.deploy.tools import REPO, run

NGINX_CONF = REPO / "services" / "ingress" / "nginx.conf"


def parse_errors(path: Path) -> list[str]:
    result = run("crossplane", "parse", "--strict", "--ignore", "default,", path, timeout=30)
    assert result.returncode == 0, result.output
    parsed = json.loads(result.stdout)
    return [e["error"] for e in parsed["errors"]] if parsed["status"] != "ok" else []


def gixy_findings(path: Path) -> list[str]:
    result = run("gixy", "--format", "json", path, timeout=60)
    findings = json.loads(result.stdout or "[]")
    assert (result.returncode == 0) == (not findings), result.output
    return [f"{f['plugin']}: {f['reason']}" for f in findings]


def test_nginx_conf_parses_strictly() -> None:
    assert parse_errors(NGINX_CONF) == []


def test_gixy_finds_nothing() -> None:
    assert gixy_findings(NGINX_CONF) == []


@pytest.fixture
def conf_copy(tmp_path: Path) -> Path:
    target = tmp_path / "nginx.conf"
    shutil.copyfile(NGINX_CONF, target)
    return target


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    proxy_read_timeout 600s;", "    proxy_read_timout 600s;", "unknown directive"),
        ("worker_processes auto;", "worker_processes auto", "invalid number of arguments"),
        (
            "    server_tokens off;",
            "    server {}\n    server_tokens off;\n    }",
            "not allowed here",
        ),
    ],
    ids=["typo", "semicolon", "braces"],
)
def test_a_broken_conf_fails_to_parse(conf_copy: Path, old: str, new: str, expected: str) -> None:
    text = conf_copy.read_text()
    assert old in text
    conf_copy.write_text(text.replace(old, new, 1))
    errors = parse_errors(conf_copy)
    assert any(expected in e for e in errors), errors


def test_gixy_finds_a_header_dropped_in_a_location(conf_copy: Path) -> None:
    text = conf_copy.read_text()
    old = "            proxy_pass $api;\n"
    assert old in text
    # A header set in one location drops every header the http block sets (Host, X-Forwarded-*).
    conf_copy.write_text(text.replace(old, old + "            proxy_set_header X-Api 1;\n", 1))
    findings = gixy_findings(conf_copy)
    assert any(f.startswith("proxy_set_header_redefinition") for f in findings), findings
