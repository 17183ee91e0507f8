"""The ``socstack`` group: settings, logging, and errors turned into one line and an exit code."""

from __future__ import annotations

import logging
from typing import Any

import click

from socstack import __version__
from socstack._exceptions import ConfigError, SocError
from socstack.config import get_settings
from socstack.logs import setup_logging
from socstack.runtime import Runtime

logger = logging.getLogger("socstack.cli")

_LONG_RUNNING = {"up", "serve", "watch", "worker"}


class SocGroup(click.Group):
    """A group that turns socstack errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, mapping errors to exit codes."""
        try:
            return super().invoke(ctx)
        except SocError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(f"error: {exc}", err=True, fg="red")
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def runtime_of(ctx: click.Context) -> Runtime:
    """The command's runtime, built on first use and closed when the command ends."""
    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        obj["runtime"] = Runtime(obj["settings"])
        ctx.call_on_close(obj["runtime"].close)
    return obj["runtime"]


def catalog_runtime(ctx: click.Context) -> Runtime:
    """The command's runtime, its catalog checked (and, if embedded, migrated) first.

    Every command that reads or writes the catalog goes through here, so a fresh
    embedded data folder works on the first command, as ``socstack up`` does, and a
    PostgreSQL catalog that was never migrated ends the command with one line saying
    to run ``socstack db upgrade`` instead of an SQL error about a missing table.
    """
    from socstack.catalog.migrate import ensure_current

    runtime = runtime_of(ctx)
    ensure_current(runtime.catalog)
    return runtime


@click.group(cls=SocGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="socstack")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, debug: bool) -> None:
    """socstack: a science operations center in containers.

    Settings come from SOC_* environment variables (see `socstack config`).
    """
    obj = ctx.ensure_object(dict)
    obj["debug"] = debug
    if ctx.resilient_parsing:  # shell completion: no side effects
        return
    try:
        settings = get_settings()
    except ConfigError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        ctx.exit(exc.exit_code)
    if verbose:
        settings = settings.model_copy(update={"log_level": "DEBUG"})
    elif ctx.invoked_subcommand not in _LONG_RUNNING:
        # One-shot commands print their own results; their logs are for trouble only.
        settings = settings.model_copy(update={"log_level": "WARNING"})
    obj["settings"] = settings
    setup_logging(settings)
