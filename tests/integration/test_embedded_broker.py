"""The embedded broker when several processes start on a new broker file at once.

`socstack up` starts the planner and the workers together; each declares the queues it
uses. With kombu's own SQLAlchemy channel one of them can die of a UNIQUE violation on
the queue's row (a CI run lost a test's worker that way).
"""

from __future__ import annotations

import multiprocessing.synchronize
from pathlib import Path

import pytest
from kombu import Connection
from sqlalchemy import create_engine, text

from socstack.pipeline.broker import celery_broker
from tests.integration import fresh_processes

PROCESSES = 6
ROUNDS = 3


def _declare(url: str, queue: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    broker, transport = celery_broker(url)
    with Connection(broker, transport=transport) as connection:
        channel = connection.channel()
        channel.session.connection()  # connected before the start line, to race harder
        barrier.wait(timeout=30)
        channel.queue_declare(queue)
        channel.basic_publish(channel.prepare_message("hello"), exchange="", routing_key=queue)


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.parametrize("tables", ["new file", "tables made"])
def test_processes_creating_one_queue_at_once_all_succeed(
    tmp_path: Path, tables: str, round_: int
) -> None:
    database = tmp_path / "broker.sqlite"
    url = f"sqla+sqlite:///{database}"
    if tables == "tables made":  # as after any earlier start: the race is on the queue's row
        broker, transport = celery_broker(url)
        with Connection(broker, transport=transport) as connection:
            connection.channel()._open()

    context = fresh_processes.context()
    barrier = context.Barrier(PROCESSES)
    processes = [
        fresh_processes.process(_declare, url, "soc.processing", barrier) for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * PROCESSES

    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        queues = connection.execute(text("SELECT name FROM kombu_queue")).scalars().all()
        messages = connection.execute(text("SELECT count(*) FROM kombu_message")).scalar()
    engine.dispose()
    assert queues == ["soc.processing"]
    assert messages == PROCESSES
