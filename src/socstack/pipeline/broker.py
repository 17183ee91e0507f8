"""The embedded broker: Celery on kombu's SQLAlchemy transport over a SQLite file.

Embedded mode runs real Celery workers (not eager mode), so the same tasks, acks and
retries run on a laptop as in the cluster. kombu's SQLAlchemy transport hands every
transport option to ``create_engine`` and polls once a second; this subclass polls ten
times a second, which keeps the latency from telemetry to L2 in seconds.
"""

from __future__ import annotations

from kombu.transport.sqlalchemy import Transport

__all__ = ["EmbeddedTransport", "celery_broker"]

EMBEDDED_PREFIX = "sqla+"


class EmbeddedTransport(Transport):
    """kombu's SQLAlchemy transport, polling every 0.1 s."""

    polling_interval = 0.1


def celery_broker(url: str) -> tuple[str, str | None]:
    """The broker URL and transport Celery should use for ``SOC_BROKER_URL``.

    ``sqla+sqlite:///...`` becomes the SQLAlchemy URL with :class:`EmbeddedTransport`
    (kombu would otherwise pick its own class from the ``sqla+`` prefix). Other URLs
    (``redis://``, ``amqp://``) pass through.
    """
    if url.startswith(EMBEDDED_PREFIX):
        return url.removeprefix(EMBEDDED_PREFIX), f"{__name__}:EmbeddedTransport"
    return url, None
