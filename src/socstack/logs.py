"""Log set-up for entry points: one JSON object per line in containers, plain text in a terminal.

Library modules only call ``logging.getLogger(__name__)``; handlers are installed here,
by the CLI, and nowhere else.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import TextIO

from socstack.access.redact import RedactTokens
from socstack.config import Settings

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra={...}`` fields become keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a single line of JSON."""
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key != "color_message":
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Install one handler on the root logger, as the settings ask.

    ``auto`` means JSON when the stream is not a terminal (a container's stdout) and
    text otherwise.
    """
    stream = stream or sys.stderr
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "text" if stream.isatty() else "json"
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_socstack", False)]:
        root.removeHandler(old)  # ours from an earlier call; other handlers stay
    handler._socstack = True  # type: ignore[attr-defined]
    handler.addFilter(RedactTokens())  # no token ever reaches a log, whoever logs it
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # Access logs of every request drown the pipeline's own messages; httpx writes one
    # for each request it sends (the notebook proxy's to JupyterLab, every health check's).
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
