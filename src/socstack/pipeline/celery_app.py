"""The one Celery app: queues, routing and the reliability settings.

Queues by kind of work (``processing``, ``quicklook``, ``mining``, ``analysis``) and by
site (``processing.onprem`` for work that must stay where the data live,
``processing.any`` for work that may burst to the cloud). A rule's ``queue`` in the
mission YAML picks one. Tasks are acknowledged late and rejected (redelivered) when a
worker dies; one task is prefetched at a time, so a long job never holds others back.

The app is built from settings on first use, never at import.
"""

from __future__ import annotations

import os
from functools import lru_cache

from celery import Celery
from kombu import Queue

from socstack.config import Settings, get_settings
from socstack.pipeline.broker import celery_broker

__all__ = ["QUEUES", "TASK_NAME", "celery_app", "make_celery"]

QUEUES = ("processing", "processing.onprem", "processing.any", "quicklook", "mining", "analysis")
TASK_NAME = "socstack.run_job"


def make_celery(settings: Settings) -> Celery:
    """A Celery app for these settings."""
    broker, transport = celery_broker(settings.broker_url)
    app = Celery("socstack", broker=broker, set_as_current=False)
    options: dict[str, object] = {}
    if broker.startswith(("redis://", "rediss://")):
        # Unacknowledged tasks return to the queue after this long: longer than any rule.
        options["visibility_timeout"] = settings.broker_visibility_timeout
        if settings.queue_prefix:
            options["global_keyprefix"] = settings.queue_prefix
    app.conf.update(
        broker_transport=transport,
        broker_transport_options=options,
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_default_queue=queue_name(settings, "processing"),
        task_queues=[Queue(queue_name(settings, name)) for name in QUEUES],
        task_create_missing_queues=True,
    )
    from socstack.pipeline.tasks import register

    register(app)
    return app


@lru_cache(maxsize=1)
def celery_app() -> Celery:
    """The process's Celery app (built from the settings on first use)."""
    return make_celery(get_settings())


def queue_name(settings: Settings, name: str) -> str:
    """The broker's name for queue ``name`` (with ``SOC_QUEUE_PREFIX``)."""
    return f"{settings.queue_prefix}{name}"


def worker_name() -> str:
    """``host:pid`` of this process, recorded on the jobs it runs."""
    return f"{os.uname().nodename}:{os.getpid()}"
