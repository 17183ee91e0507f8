"""``socstack up``, ``serve`` and ``watch``: the long-running processes (embedded, containers)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import click

from socstack.cli._base import main, runtime_of
from socstack.cli.ingest import print_summary
from socstack.config import Settings


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), help="Port to serve on [SOC_PORT, 8000].")
@click.option("--host", help="Interface to bind [SOC_HOST, 127.0.0.1].")
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Simulate telemetry if the archive is empty.",
)
@click.option("--watch/--no-watch", default=True, show_default=True, help="Watch the drop box.")
@click.option(
    "--process/--no-process", default=True, show_default=True, help="Run the planner and a worker."
)
@click.pass_context
def up(
    ctx: click.Context,
    *,
    port: int | None,
    host: str | None,
    demo: bool,
    watch: bool,
    process: bool,
) -> None:
    """Run the whole data center on this machine (embedded mode).

    Migrates the catalog, seeds simulated telemetry into the drop box when the archive
    is empty, watches the drop box and serves /api on one port until Ctrl-C.
    """
    from socstack.up import up as run_up

    runtime = runtime_of(ctx)
    settings: Settings = runtime.settings
    run_up(
        runtime,
        host=host or settings.host,
        port=settings.port if port is None else port,
        demo=demo,
        watch=watch,
        process=process,
        say=lambda text: click.echo(text, err=False),
    )


#: Where ``serve notebook`` listens unless told: JupyterLab's own port, which the analysis
#: image, its Compose service and its Kubernetes Service name (SOC_PORT is the other
#: services' port, 8000 in every image).
NOTEBOOK_PORT = 8888


@main.command()
@click.argument("service", type=click.Choice(["api", "hapi", "viz", "notebook"]))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help=f"Port to serve on [SOC_PORT, 8000; notebook: {NOTEBOOK_PORT}].",
)
@click.option("--host", help="Interface to bind [SOC_HOST, 127.0.0.1].")
@click.pass_context
def serve(ctx: click.Context, service: str, port: int | None, host: str | None) -> None:
    """Serve one web service (as its container does).

    api, hapi and notebook migrate an embedded (SQLite) catalog on first use; a
    PostgreSQL catalog must be migrated first (`socstack db upgrade`).

    viz reads HAPI and the API over HTTP only (SOC_VIZ_HAPI_URL, SOC_VIZ_API_URL).

    notebook is JupyterLab at /notebook behind socstack's sign-in, as in `socstack up`:
    JupyterLab runs as a private child on loopback, and every request must carry a
    socstack token of scope run (Bearer, or the viz's sign-in cookie); its kernels run
    with their user's token. It stops, failing, if JupyterLab does.
    """
    from socstack.up import PublicUrl
    from socstack.up import serve as run_server

    settings: Settings = ctx.ensure_object(dict)["settings"]
    bind = host or settings.host
    if port is None:
        port = NOTEBOOK_PORT if service == "notebook" else settings.port
    public = PublicUrl(settings, bind, port)

    def started(bound: int) -> None:
        public.bound(bound)
        click.echo(f"serving {service} on http://{bind}:{bound}/{service}")

    if service == "viz":
        from socstack.viz.service import create_viz_app

        app = create_viz_app(settings, public)
    else:
        from socstack.api.app import create_app as create_api
        from socstack.catalog.migrate import ensure_current
        from socstack.hapi.app import create_app as create_hapi

        runtime = runtime_of(ctx)
        settings = runtime.settings
        ensure_current(runtime.catalog)
        runtime.missions  # noqa: B018 - load now: a bad mission file fails before serving
        if service == "notebook":
            from socstack.up import serve_with_analysis
            from socstack.web import create_notebook_app

            serve_with_analysis(
                runtime,
                create_notebook_app,
                public,
                host=bind,
                port=port,
                on_started=started,
                say=click.echo,
                dedicated=True,
            )
            return
        app = create_api(runtime) if service == "api" else create_hapi(runtime, base_url=public)

    from socstack.usage import Metered

    run_server(
        Metered(app, service), bind, port, started, forwarded_allow_ips=settings.forwarded_allow_ips
    )


@main.command()
@click.option("--once", is_flag=True, help="Ingest what is there now, then exit.")
@click.pass_context
def watch(ctx: click.Context, once: bool) -> None:
    """Watch the drop box (SOC_INCOMING_DIR) and ingest files once they are complete."""
    from socstack.catalog.migrate import ensure_current
    from socstack.ingest.watcher import DropBox

    runtime = runtime_of(ctx)
    settings = runtime.settings
    ensure_current(runtime.catalog)
    dropbox = DropBox(
        runtime.ingestor,
        settings.incoming,
        settle=settings.watch_settle,
        interval=settings.watch_interval,
    )
    if once:
        settings.incoming.mkdir(parents=True, exist_ok=True)
        results = dropbox.scan()
        time.sleep(settings.watch_settle)
        results += dropbox.scan()
        print_summary(Counter(r.outcome.value for r in results))
        return
    import signal

    stop = threading.Event()
    # SIGTERM (a container stopping) ends the watch between files, as Ctrl-C does; as
    # PID 1 in a container, a process without this handler would not stop at all.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"watching {settings.incoming} (Ctrl-C to stop)")
    try:
        dropbox.run(stop)
    except KeyboardInterrupt:
        stop.set()
