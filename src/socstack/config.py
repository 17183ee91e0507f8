"""Settings of every socstack process, read from ``SOC_*`` environment variables.

This is the only module that reads the environment. Defaults make the embedded mode
work with nothing installed: everything lives under ``SOC_DATA_DIR`` (SQLite catalog, a
local archive folder, an SQLite-backed Celery transport). The cluster mode differs only
by URLs (``SOC_DATABASE_URL=postgresql://...``, ``SOC_ARCHIVE_URL=s3://...``,
``SOC_BROKER_URL=redis://...``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from socstack._exceptions import ConfigError

__all__ = ["DEFAULT_QUEUES", "Settings", "bundled_missions_dir", "get_settings"]

#: The queues a default deployment's workers take (``socstack worker`` with no --queues,
#: and so `socstack up`'s one worker). Compose and Kubernetes split them between the
#: processing workers and the mining service (``--queues mining``).
DEFAULT_QUEUES = ("processing", "processing.onprem", "processing.any", "quicklook", "mining")


def bundled_missions_dir() -> Path:
    """Where the missions shipped with socstack live.

    A wheel carries them inside the package (``socstack/_bundled_missions``); a source
    checkout (editable install) has them at the top of the repository.
    """
    package_dir = Path(__file__).resolve().parent
    in_wheel = package_dir / "_bundled_missions"
    if in_wheel.is_dir():
        return in_wheel
    return package_dir.parent.parent / "missions"


def _as_url(path: Path) -> str:
    return path.resolve().as_uri()


class Settings(BaseSettings):
    """Settings of a socstack process.

    Every field maps to ``SOC_<FIELD>``; unset URLs are derived from ``data_dir`` after
    validation, so the resolved values are always concrete.
    """

    model_config = SettingsConfigDict(env_prefix="SOC_", extra="ignore", validate_default=True)

    data_dir: Path = Field(Path("soc-data"), description="Root of everything kept locally.")
    database_url: str = Field("", description="SQLAlchemy URL of the catalog.")
    archive_url: str = Field("", description="fsspec URL of the archive root.")
    quarantine_url: str = Field("", description="fsspec URL where rejected files are kept.")
    broker_url: str = Field("", description="Celery broker URL.")
    missions: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Mission folders (or folders of mission folders), separated by ':' or ','.",
    )
    incoming_dir: Path | None = Field(None, description="The drop box the watcher scans.")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    public_url: str = Field(
        "", description="Base URL clients see (default: http://host:port where it listens)."
    )
    #: Whether ``public_url`` was given (SOC_PUBLIC_URL) rather than derived.
    _public_url_given: bool = PrivateAttr(False)

    log_level: str = "INFO"
    log_format: Literal["auto", "text", "json"] = "auto"

    s3_endpoint_url: str = Field(
        "",
        description=(
            "Endpoint of an S3-protocol server (MinIO, Ceph, a cloud's S3) for s3:// URLs;"
            " empty for AWS itself. Credentials come from the usual AWS chain."
        ),
    )
    archive_fsync: bool = Field(True, description="fsync archived files before they count.")
    watch_interval: float = Field(0.5, gt=0, description="Seconds between drop-box scans.")
    watch_settle: float = Field(
        1.0, ge=0, description="Seconds a file's size and mtime must stay unchanged."
    )
    upload_max_bytes: int = Field(16 * 2**30, gt=0, description="Largest upload accepted.")

    broker_visibility_timeout: int = Field(
        7200, gt=0, description="Seconds before Redis redelivers an unacknowledged task."
    )
    queue_prefix: str = Field(
        "", pattern=r"^[A-Za-z0-9_.-]*$", description="Prefix of every queue name (shared brokers)."
    )
    queues: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_QUEUES),
        description=(
            "The queues this deployment's workers take, separated by ','; a rule on any"
            " other queue is refused at load (its jobs would wait for ever)."
        ),
    )
    worker_concurrency: int = Field(0, ge=0, description="Worker processes (0: one per CPU).")
    job_heartbeat: float = Field(5.0, gt=0, description="Seconds between job heartbeats.")
    job_stale: float = Field(
        30.0, gt=0, description="A running job whose heartbeat is this old lost its worker."
    )
    planner_interval: float = Field(0.25, gt=0, description="Seconds between planner passes.")
    cloudcatalog: bool = Field(
        False,
        description=(
            "Keep the HelioCloud CloudCatalog of the released files current: rewritten as"
            " files arrive (socstack up, or socstack export cloudcatalog --follow)."
        ),
    )
    cloudcatalog_dest: str = Field(
        "", description="Where the CloudCatalog goes (default: the archive bucket's root)."
    )
    cloudcatalog_refresh: float = Field(
        3600.0,
        gt=0,
        description=(
            "Seconds between rewrites with no arrival: releases and embargoes that end"
            " with the clock change what is public without a file event."
        ),
    )
    redispatch_after: float = Field(
        900.0, gt=0, description="Send a queued job again if no worker took it this long."
    )

    hapi_id: str = Field(
        "socstack", min_length=1, description="This server's id in /hapi/about (say whose it is)."
    )
    hapi_title: str = Field(
        "socstack science operations center", min_length=1, description="Title in /hapi/about."
    )
    hapi_contact: str = Field("socstack operators", description="Contact in /hapi/about.")
    hapi_contact_id: str = Field(
        "", description="A persistent id of the contact in /hapi/about (an ORCID, a SPASE id)."
    )
    hapi_server_citation: str = Field(
        "", description="How to cite this server, in /hapi/about (serverCitation)."
    )
    spase_authority: str = Field(
        "socstack",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description=(
            "The naming authority of the SPASE ids `socstack export spase` makes"
            " (spase://<authority>/NumericalData/...): the registry that resolves them."
        ),
    )
    hapi_include_unreleased: bool = Field(
        False, description="Serve datasets the release policy keeps private (internal servers)."
    )
    hapi_gzip_level: int = Field(3, ge=1, le=9, description="gzip level of HAPI responses.")

    peers: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Peer HAPI servers by the names missions' harvest sources give (JSON:"
            ' {"name": "https://peer.example/hapi"}); a peer named here overrides its YAML url.'
        ),
    )
    peer_tokens: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description="Tokens to send to peers, by peer name (JSON; from the deployment's secrets).",
    )
    harvest_contact: str = Field(
        "",
        description=(
            "The operator's contact (an email or URL) in the User-Agent sent to peers, so a"
            " peer's operator can reach this one."
        ),
    )

    admin_token: str = Field(
        "",
        repr=False,
        description=(
            "A deployment's initial admin token (from its secrets), registered at"
            " `socstack db upgrade`; embedded mode makes one at first start instead."
        ),
    )
    token_cache_seconds: float = Field(
        5.0, ge=0, description="Seconds a checked token is remembered (a revocation's delay)."
    )
    release_cache_seconds: float = Field(
        1.0, ge=0, description="Seconds a product's releases are remembered by each process."
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description=(
            "Proxies (comma-separated addresses, or *) whose X-Forwarded-For is believed:"
            " the ingress, so failed sign-ins are counted per client, not per proxy."
        ),
    )
    auth_failures_per_minute: int = Field(
        20, gt=0, description="Failed authentications a client may make a minute (then 429)."
    )
    oidc_jwks: str = Field(
        "", description="An OpenID Connect provider's key set (https URL or file) for JWTs."
    )
    oidc_issuer: str = Field("", description="The issuer a JWT must name.")
    oidc_audience: str = Field("socstack", description="The audience a JWT must name.")
    oidc_groups_claim: str = Field("groups", description="The JWT claim that lists groups.")

    # The client and notebook runs (socstack.client, socstack.analysis).
    token: str = Field(
        "",
        repr=False,
        description=(
            "The token socstack.client sends when none is given; in a notebook run, the"
            " run's own short-lived token, made for the run's submitter."
        ),
    )
    run_dir: Path | None = Field(
        None,
        description=(
            "Set by the worker inside a notebook run: the folder the run shares with it"
            " (the files the client read, the datasets it published)."
        ),
    )

    notebooks_dir: Path | None = Field(
        None,
        description=(
            "The deployment's notebook library, beside each mission's notebooks/ folder"
            " (default: SOC_DATA_DIR/notebooks)."
        ),
    )
    run_timeout: float = Field(
        600.0, gt=0, description="Seconds a notebook run may take before it is timed out."
    )
    run_memory_mb: int = Field(
        2048, ge=64, description="Memory a notebook run's kernel may use (MB) before it is ended."
    )

    viz_hapi_url: str = Field(
        "", description="HAPI server the viz opens with (default: this socstack's /hapi)."
    )
    viz_api_url: str = Field(
        "", description="socstack API the viz reads quicklooks and jobs from (default: /api)."
    )
    viz_cache_mb: int = Field(
        1024, ge=16, description="Memory the viz keeps downloaded HAPI data in (MB)."
    )
    viz_timeout: float = Field(60.0, gt=0, description="Seconds the viz waits for a server.")
    viz_default_view: str = Field(
        "",
        description=(
            "The view the plot page opens without a link: a link's query, e.g."
            " panel=DATASET/PARAMETER&panel=... (no times: the last day of the coverage);"
            " empty: the first dataset's first parameters."
        ),
    )

    demo_start: dt.date = Field(dt.date(2025, 1, 1), description="First day `up` simulates.")
    demo_days: int = Field(3, ge=0, description="Days of telemetry `up` simulates if empty.")

    # JupyterLab at /notebook and Dask beside the archive (`socstack up`, analysis extra).
    notebook: bool = Field(
        True,
        description=(
            "Start JupyterLab at /notebook in `socstack up` (analysis extra);"
            " `socstack serve notebook` always does."
        ),
    )
    dask_workers: int = Field(
        2,
        ge=0,
        description=(
            "Worker processes of the Dask LocalCluster beside JupyterLab (`up`,"
            " `serve notebook`) when no SOC_DASK_SCHEDULER is given (0: no cluster)."
        ),
    )
    dask_scheduler: str = Field(
        "",
        description=(
            "The Dask scheduler notebooks and the client's chunked reads use (tcp://...):"
            " set by `up` for its JupyterLab; in a cluster, the DaskCluster's scheduler"
            " (then no LocalCluster is started)."
        ),
    )

    @field_validator("queues", mode="before")
    @classmethod
    def _split_queues(cls, value: object) -> object:
        if isinstance(value, str):
            return [q.strip() for q in value.split(",") if q.strip()]
        return value

    @field_validator("queues")
    @classmethod
    def _queue_names(cls, value: list[str]) -> list[str]:
        bad = [q for q in value if not re.fullmatch(r"[A-Za-z0-9_.-]+", q)]
        if bad or not value:
            raise ValueError(f"give queue names separated by ',' (not {', '.join(bad) or 'none'})")
        return value

    @field_validator("missions", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            parts = value.replace(",", os.pathsep).split(os.pathsep)
            return [Path(p.strip()) for p in parts if p.strip()]
        return value

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'catalog.sqlite'}"
        if not self.archive_url:
            self.archive_url = _as_url(self.data_dir / "archive")
        if not self.quarantine_url:
            self.quarantine_url = _as_url(self.data_dir / "quarantine")
        if not self.broker_url:
            self.broker_url = f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"
        if not self.missions:
            self.missions = [bundled_missions_dir() / "demo"]
        self.missions = [p.expanduser().resolve() for p in self.missions]
        if self.incoming_dir is None:
            self.incoming_dir = self.data_dir / "incoming"
        self.incoming_dir = self.incoming_dir.expanduser().resolve()
        self._public_url_given = bool(self.public_url)
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        return self

    def public_url_for(self, host: str, port: int) -> str:
        """The base URL clients see for a server listening on ``host:port``.

        An explicit ``SOC_PUBLIC_URL`` (a proxy, an ingress) wins; else the address the
        server is bound to, which ``--port`` (or port 0) may have made other than
        ``SOC_HOST:SOC_PORT``, from which :attr:`public_url` was derived.
        """
        if self._public_url_given:
            return self.public_url
        return f"http://{host}:{port}"

    @property
    def incoming(self) -> Path:
        """The drop-box folder (always set after validation)."""
        assert self.incoming_dir is not None  # noqa: S101 - set by the validator
        return self.incoming_dir

    @property
    def notebook_library(self) -> Path:
        """The deployment's own notebook library (``SOC_NOTEBOOKS_DIR``)."""
        return (self.notebooks_dir or self.data_dir / "notebooks").expanduser().resolve()

    @property
    def spool_dir(self) -> Path:
        """Local scratch space for uploads in flight (never shared between hosts)."""
        return self.data_dir / "spool"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Build the process's settings once, on first use, from the environment.

    Tests change the environment and call ``get_settings.cache_clear()``.
    """
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "SOC_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(first["msg"], source="environment", field=field) from exc
