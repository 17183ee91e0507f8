"""``socstack health``: the containers' healthcheck passes only when what it names answers."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from socstack.cli import main
from socstack.config import get_settings


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def health(*args: str, env: dict[str, str] | None = None) -> Result:
    get_settings.cache_clear()
    return CliRunner().invoke(main, ["health", *args], env=env)


def test_a_url_that_answers_2xx_passes(server: str) -> None:
    result = health("--url", f"{server}/ok")
    assert result.exit_code == 0, result.output
    assert "answered 200" in result.output


def test_a_url_that_answers_otherwise_fails_with_one_line(server: str) -> None:
    result = health("--url", f"{server}/ok", "--url", f"{server}/down")
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {server}/down answered 503"


def test_a_url_nobody_listens_on_fails() -> None:
    result = health("--url", f"http://127.0.0.1:{_closed_port()}/api/ready", "--timeout", "2")
    assert result.exit_code == 1
    assert "did not answer" in result.output


def test_the_catalog_and_the_embedded_broker_pass(tmp_path: Path) -> None:
    result = health("--catalog", "--broker", env={"SOC_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "catalog answered" in result.output
    assert "broker" in result.output


def test_a_broker_that_is_away_fails_without_its_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{_closed_port()}/0"
    result = health("--broker", "--timeout", "1", env={"SOC_BROKER_URL": url})
    assert result.exit_code == 1
    assert "did not answer" in result.output
    assert "hunter2" not in result.output


def test_nothing_to_check_is_a_usage_error() -> None:
    assert health().exit_code == 2
