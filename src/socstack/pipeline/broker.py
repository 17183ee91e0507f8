"""The embedded broker: Celery on kombu's SQLAlchemy transport over a SQLite file.

Embedded mode runs real Celery workers (not eager mode), so the same tasks, acks and
retries run on a laptop as in the cluster. kombu's SQLAlchemy transport hands every
transport option to ``create_engine`` and polls once a second; this subclass polls ten
times a second, which keeps the latency from telemetry to L2 in seconds.

kombu creates its tables and each queue's row on first use, guarded by a lock that holds
within one process only: when the planner and a worker start together, both create them
and one dies of "table already exists" or a UNIQUE violation (or, with SQLite busy, goes
on with a queue row that was never stored). :class:`EmbeddedChannel` takes whichever
table or row won.
"""

from __future__ import annotations

import time
from typing import Any

from kombu.transport.sqlalchemy import Channel, Transport
from sqlalchemy.exc import IntegrityError, OperationalError

__all__ = ["EmbeddedChannel", "EmbeddedTransport", "celery_broker"]

EMBEDDED_PREFIX = "sqla+"
_CREATE_ATTEMPTS = 20


class EmbeddedChannel(Channel):
    """kombu's SQLAlchemy channel, safe when processes create the same queue at once."""

    def _open(self) -> Any:
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                return super()._open()
            except OperationalError:
                # Another process created the tables between the check and the CREATE.
                time.sleep(0.05 * (attempt + 1))
        return super()._open()

    def _get_or_create(self, queue: str) -> Any:
        model = self.queue_cls
        for attempt in range(_CREATE_ATTEMPTS):
            row = self.session.query(model).filter(model.name == queue).first()
            if row is not None:
                return row
            self.session.add(model(queue))
            try:
                self.session.commit()
            except (IntegrityError, OperationalError):
                # Another process inserted it first, or SQLite was busy: read it again.
                self.session.rollback()
                time.sleep(0.05 * (attempt + 1))
                continue
            return self.session.query(model).filter(model.name == queue).one()
        raise OperationalError(f"could not create queue {queue!r}", None, Exception("busy"))


class EmbeddedTransport(Transport):
    """kombu's SQLAlchemy transport, polling every 0.1 s, with :class:`EmbeddedChannel`."""

    Channel = EmbeddedChannel
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
