"""The Celery task: thin, as Celery's own docs advise; the work is :func:`execute_job`.

Each worker process builds its runtime (catalog engine, archive, missions) on first
use, after the fork: connections must never cross a fork.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from celery import Celery
from celery.signals import worker_process_init

from socstack.config import Settings, get_settings
from socstack.pipeline.celery_app import TASK_NAME, queue_name, worker_name
from socstack.pipeline.jobs import execute_job
from socstack.runtime import Runtime

if TYPE_CHECKING:
    from socstack.catalog.models import Job

__all__ = ["register", "sender"]

logger = logging.getLogger(__name__)

_runtime: Runtime | None = None


def _process_runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - one runtime per worker process, by design
    if _runtime is None:
        _runtime = Runtime(get_settings())
    return _runtime


@worker_process_init.connect
def _after_fork(**_: object) -> None:
    global _runtime  # noqa: PLW0603
    _runtime = None  # the parent's engine must not be used in this child


def run_job(job_id: int) -> str:
    """Execute one job in this worker process; returns the outcome's name."""
    outcome = execute_job(_process_runtime(), job_id, worker=worker_name())
    logger.info("job %s: %s", job_id, outcome.value)
    return outcome.value


def register(app: Celery) -> None:
    """Register the task on ``app`` under its stable name."""
    app.task(name=TASK_NAME, acks_late=True, ignore_result=True)(run_job)


def sender(app: Celery, settings: Settings):
    """A function sending a job to its queue, with the rule's timeout as time limits."""

    def send(job: Job) -> None:
        app.send_task(
            TASK_NAME,
            args=[job.id],
            queue=queue_name(settings, job.queue),
            soft_time_limit=job.timeout,
            time_limit=job.timeout + 30,
        )

    return send
