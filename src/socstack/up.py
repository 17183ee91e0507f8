"""``socstack up``: the whole data center in one process tree, embedded defaults.

It migrates the catalog, loads the missions, seeds the drop box with simulated
telemetry when the archive is empty, starts the drop-box watcher, the planner and a
processing worker (a real Celery worker process on the embedded broker), and serves
every web service on one port. Ctrl-C (or SIGTERM) stops it cleanly.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn
from sqlalchemy import func, select
from starlette.types import ASGIApp

from socstack._exceptions import SocError
from socstack.analysis.embedded import EmbeddedAnalysis
from socstack.catalog.migrate import upgrade
from socstack.catalog.models import File
from socstack.config import Settings
from socstack.edge import SecurityHeaders
from socstack.ingest.watcher import DropBox
from socstack.mission.code import load_callable
from socstack.runtime import Runtime
from socstack.web import create_web_app

__all__ = ["PublicUrl", "seed_demo", "serve", "serve_with_analysis", "up"]

logger = logging.getLogger(__name__)


def seed_demo(runtime: Runtime, folder: Path, say: Callable[[str], None]) -> list[Path]:
    """Simulate ``SOC_DEMO_DAYS`` days of every mission that has a simulator."""
    settings = runtime.settings
    written: list[Path] = []
    for mission in runtime.missions:
        if not mission.simulator or settings.demo_days == 0:
            continue
        simulate = load_callable(mission, mission.simulator, field="simulator")
        say(
            f"simulating {settings.demo_days} days of {mission.name} telemetry from "
            f"{settings.demo_start.isoformat()} into the drop box"
        )
        written += simulate(settings.demo_start, settings.demo_days, folder, mission=mission)
    return written


ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret


def _first_admin(runtime: Runtime, say: Callable[[str], None]) -> None:
    """At first start, make the admin's token, show it once and keep it for its owner.

    It is kept in the data folder, readable by its owner only (mode 0600), so the person
    who started ``up`` can find it again; a deployment's admin token comes from its
    secrets instead (``SOC_ADMIN_TOKEN``, registered by ``socstack db upgrade``).
    """
    settings = runtime.settings
    text = runtime.access.accounts.ensure_admin(settings.admin_token or None, actor="up")
    if text is None:
        return
    path = settings.data_dir / ADMIN_TOKEN_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text + "\n")
    os.chmod(path, 0o600)
    say(f"admin token (shown once; kept in {path}, mode 0600): {text}")


def _archive_is_empty(runtime: Runtime) -> bool:
    with runtime.catalog.session() as session:
        return not session.scalar(select(func.count()).select_from(File))


class PublicUrl:
    """Where clients reach a server: ``SOC_PUBLIC_URL``, else where it really listens.

    Known for sure only once the server is bound (``--port 0`` picks a port then, and
    ``--port N`` overrides ``SOC_PORT``): :meth:`bound` sets it. HAPI's ``about`` and the
    viz (which reads this server's HAPI and API over HTTP) call the object for it.
    """

    def __init__(self, settings: Settings, host: str, port: int):
        self.settings = settings
        self.host = host
        self.url = settings.public_url_for(host, port)

    def bound(self, port: int) -> None:
        """The server listens on ``port``."""
        self.url = self.settings.public_url_for(self.host, port)

    def __call__(self) -> str:
        """The base URL, without a trailing slash."""
        return self.url


def serve(
    app: object,
    host: str,
    port: int,
    on_started: Callable[[int], None],
    *,
    forwarded_allow_ips: str = "127.0.0.1",
    stop_when: Callable[[], str | None] | None = None,
) -> None:
    """Run uvicorn in this thread until a signal stops it; report the bound port.

    ``X-Forwarded-For`` is believed only from ``forwarded_allow_ips`` (the ingress), so
    the failed sign-ins are counted per client and never per proxy, and a client cannot
    pick its own address by sending the header itself.

    ``stop_when``, asked twice a second once serving, gives a reason for the server to
    stop (what it serves has gone); it then stops as on a signal and raises
    :class:`SocError` with that reason, so the process exits non-zero and its container
    is restarted instead of serving on without what it is for.
    """
    config = uvicorn.Config(
        SecurityHeaders(app),  # type: ignore[arg-type]
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,  # no banner naming the software and its version
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)

    ended: list[str] = []
    pause = threading.Event()

    def announce() -> None:
        while not server.started and not server.should_exit:
            pause.wait(0.05)
        if not server.started:
            return
        sockets = [s for srv in server.servers for s in srv.sockets]
        on_started(sockets[0].getsockname()[1] if sockets else port)
        while stop_when is not None and not server.should_exit:
            reason = stop_when()
            if reason is not None:
                ended.append(reason)
                server.should_exit = True
                return
            pause.wait(0.5)

    threading.Thread(target=announce, name="announce", daemon=True).start()
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal into the
    # handlers that were in place before it started. Ours make that a clean exit (status 0)
    # instead of a KeyboardInterrupt or a death by SIGTERM.
    in_main = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: None)
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if ended:
        raise SocError(ended[0])


def serve_with_analysis(
    runtime: Runtime,
    app_for: Callable[[ASGIApp], ASGIApp],
    public: PublicUrl,
    *,
    host: str,
    port: int,
    on_started: Callable[[int], None],
    say: Callable[[str], None],
    dedicated: bool = False,
) -> None:
    """Serve ``app_for(notebook)`` with JupyterLab (and Dask) running behind ``/notebook``.

    The one way JupyterLab is served, by ``up`` (its ``/notebook`` among every other
    path) and by ``socstack serve notebook`` (``dedicated``: ``/notebook`` alone, and the
    server stops, failing, if JupyterLab does): the proxy exists before the server
    listens; once bound, ``on_started`` runs and JupyterLab starts, told the public URL;
    when the server stops, so do JupyterLab and Dask.
    """
    analysis = EmbeddedAnalysis(runtime, say, dedicated=dedicated)

    def started(bound: int) -> None:
        public.bound(bound)
        on_started(bound)
        analysis.start(public())

    try:
        serve(
            app_for(analysis.app),
            host,
            port,
            started,
            forwarded_allow_ips=runtime.settings.forwarded_allow_ips,
            stop_when=analysis.stopped if dedicated else None,
        )
    finally:
        analysis.stop()


def up(
    runtime: Runtime,
    *,
    host: str,
    port: int,
    demo: bool = True,
    watch: bool = True,
    process: bool = True,
    say: Callable[[str], None] = print,
) -> None:
    """Run the embedded data center until interrupted."""
    settings = runtime.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    incoming = settings.incoming
    incoming.mkdir(parents=True, exist_ok=True)
    say(f"data in {settings.data_dir}")
    upgrade(runtime.catalog)
    _first_admin(runtime, say)
    missions = list(runtime.missions)
    say(f"missions: {', '.join(m.name for m in missions)}")
    runtime.archive.sweep_temporary()

    dropbox = DropBox(
        runtime.ingestor, incoming, settle=settings.watch_settle, interval=settings.watch_interval
    )
    if demo and _archive_is_empty(runtime) and not any(incoming.iterdir()):
        seeded = seed_demo(runtime, incoming, say)
        if seeded and not watch:
            # Our own simulator wrote these whole (write, then rename): no need to settle.
            DropBox(runtime.ingestor, incoming, settle=0).scan()

    stop = threading.Event()
    worker = _start_worker(settings) if process else None
    planner: threading.Thread | None = None
    if process:
        planner = threading.Thread(target=_plan, args=(runtime, stop), name="planner", daemon=True)
        planner.start()
    indexer: threading.Thread | None = None
    if settings.cloudcatalog:
        from socstack.export.follow import CloudCatalogFollower

        follower = CloudCatalogFollower(runtime)
        indexer = threading.Thread(target=follower.run, args=(stop,), name="cloudcatalog")
        indexer.daemon = True
        indexer.start()
    watcher: threading.Thread | None = None
    if watch:
        watcher = threading.Thread(target=dropbox.run, args=(stop,), name="dropbox", daemon=True)
        watcher.start()

    public = PublicUrl(settings, host, port)

    def started(bound: int) -> None:
        base = f"http://{host}:{bound}"
        say(f"socstack is up: {base}/api/files  (API docs {base}/api/docs)")
        say(f"plots: {base}/viz/   HAPI: {base}/hapi")
        say(f"drop box: {incoming}   stop with Ctrl-C")

    try:
        serve_with_analysis(
            runtime,
            lambda notebook: create_web_app(runtime, public, notebook=notebook),
            public,
            host=host,
            port=port,
            on_started=started,
            say=say,
        )
    finally:
        stop.set()
        for thread in (watcher, planner, indexer):
            if thread is not None:
                thread.join(timeout=30)
        if worker is not None:
            _stop_worker(worker)
        runtime.close()
        say("socstack stopped")


def _plan(runtime: Runtime, stop: threading.Event) -> None:
    from socstack.pipeline.celery_app import celery_app
    from socstack.pipeline.planner import Planner
    from socstack.pipeline.tasks import sender

    Planner(runtime, sender(celery_app(), runtime.settings)).run(stop)


def _start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """A real worker process on the embedded broker (the same as `socstack worker`)."""
    concurrency = settings.worker_concurrency or min(2, os.cpu_count() or 1)
    command = [sys.executable, "-m", "socstack", "worker", "--concurrency", str(concurrency)]
    if importlib.util.find_spec("papermill") is not None and "analysis" not in settings.queues:
        # The analysis extra is installed: this one worker executes notebook runs too.
        command += ["--queues", ",".join([*settings.queues, "analysis"])]
    return subprocess.Popen(command, env=os.environ.copy())


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (running jobs finish) for up to 30 s, then stop it."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
