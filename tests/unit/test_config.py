from pathlib import Path

import pytest

from socstack._exceptions import ConfigError
from socstack.config import bundled_missions_dir, get_settings


def test_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    settings = get_settings()
    data = tmp_path / "soc-data"
    assert settings.data_dir == data
    assert settings.database_url == f"sqlite:///{data / 'catalog.sqlite'}"
    assert settings.archive_url == (data / "archive").as_uri()
    assert settings.quarantine_url == (data / "quarantine").as_uri()
    assert settings.broker_url == f"sqla+sqlite:///{data / 'broker.sqlite'}"
    assert settings.incoming == data / "incoming"
    assert settings.missions == [bundled_missions_dir() / "demo"]


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOC_DATABASE_URL", "postgresql://db/soc")
    monkeypatch.setenv("SOC_ARCHIVE_URL", "s3://bucket/archive")
    monkeypatch.setenv("SOC_MISSIONS", f"{tmp_path / 'a'}:{tmp_path / 'b'},{tmp_path / 'c'}")
    monkeypatch.setenv("SOC_INCOMING_DIR", str(tmp_path / "drop"))
    monkeypatch.setenv("SOC_PORT", "9000")
    settings = get_settings()
    assert settings.database_url == "postgresql://db/soc"
    assert settings.archive_url == "s3://bucket/archive"
    assert settings.missions == [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    assert settings.incoming == tmp_path / "drop"
    assert settings.port == 9000
    assert settings.public_url == "http://127.0.0.1:9000"


def test_the_public_url_follows_the_bound_port_unless_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `up --port 9123` (or port 0) binds elsewhere than SOC_PORT: clients see the bound port.
    assert get_settings().public_url_for("127.0.0.1", 9123) == "http://127.0.0.1:9123"
    monkeypatch.setenv("SOC_PUBLIC_URL", "https://soc.example.org/")
    get_settings.cache_clear()
    given = get_settings()
    assert given.public_url_for("127.0.0.1", 9123) == "https://soc.example.org"


def test_settings_are_built_once_until_the_cache_is_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = get_settings()
    monkeypatch.setenv("SOC_PORT", "9100")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().port == 9100


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SOC_PORT", "70000"),
        ("SOC_PORT", "http"),
        ("SOC_WATCH_SETTLE", "-1"),
        ("SOC_LOG_FORMAT", "xml"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        get_settings()


def test_every_queue_but_analysis_is_a_default_workers() -> None:
    """A rule loads only on a queue of SOC_QUEUES: by default every queue Celery declares
    but ``analysis`` (which `socstack up` adds when the analysis extra is installed)."""
    from socstack.config import DEFAULT_QUEUES
    from socstack.pipeline.celery_app import QUEUES

    assert set(QUEUES) - {"analysis"} == set(DEFAULT_QUEUES)
    assert "mining" in DEFAULT_QUEUES
    assert get_settings().queues == list(DEFAULT_QUEUES)


def test_the_embedded_worker_takes_every_default_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """`socstack up`'s one worker takes the mining queue too: no rule waits for ever."""
    from socstack import up

    started: list[list[str]] = []
    monkeypatch.setattr(up.subprocess, "Popen", lambda command, **_: started.append(command))
    settings = get_settings()
    up._start_worker(settings)
    (command,) = started
    assert command[1:4] == ["-m", "socstack", "worker"]
    taken = (
        command[command.index("--queues") + 1].split(",")
        if "--queues" in command
        else settings.queues  # `socstack worker` with no --queues takes SOC_QUEUES
    )
    assert set(settings.queues) <= set(taken)
    assert "mining" in taken
