"""The ``socstack`` command: one module per command group.

Errors end a command with one clear line on stderr and a non-zero exit code (the
error's own: 78 for configuration, 1 otherwise; 2 for usage; 130 for Ctrl-C); a
traceback appears only with ``--debug``.
"""

from socstack.cli import (  # noqa: F401 - they register commands
    access,
    admin,
    demo,
    export,
    harvest,
    ingest,
    pipeline,
    placement,
    runs,
    serve,
)
from socstack.cli._base import main
from socstack.cli.ingest import EXIT_QUARANTINED

__all__ = ["EXIT_QUARANTINED", "main"]
