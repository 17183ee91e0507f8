"""Tokens never reach a log: a filter on every handler blanks whatever looks like one.

It blanks socstack tokens, ``Authorization`` header values and JSON Web Tokens wherever
they appear in a record's message or arguments, so a request logged by a library, an
exception's text or a repr does not leak a credential either.
"""

from __future__ import annotations

import logging
import re

from socstack.access.tokens import TOKEN_PATTERN

__all__ = ["RedactTokens", "redact"]

_PATTERNS = (
    TOKEN_PATTERN,
    re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # a JWT
    re.compile(r"(?i)(socstack_token=)[^;\s&]+"),
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with every credential in it replaced."""
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: f"{m.group(1)} {REDACTED}".replace("= ", "="), text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


class RedactTokens(logging.Filter):
    """A logging filter that redacts credentials from each record (message and args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
