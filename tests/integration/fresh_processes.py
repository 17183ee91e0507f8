"""Processes of their own for the race tests, forked from a fork server.

``spawn`` starts a new interpreter for each process, which imports SQLAlchemy, kombu and
socstack again (a second or more each, on two cores); forking the test process itself
would copy its threads and open connections. A fork server, started once with those
modules imported, forks a clean process in milliseconds: each is still a process of its
own, opening its own connections. It keeps the environment it started with, so a
process that reads settings sets its ``SOC_*`` variables itself (:func:`use_environment`).
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import os
from collections.abc import Callable
from typing import Any

#: What the fork server imports once: the modules whose functions the processes run
#: (anything else a process needs, it imports itself, as under spawn).
PRELOAD = ["tests.integration.test_concurrent_ingest", "tests.integration.test_embedded_broker"]


def context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context of the race tests' processes, barriers and queues."""
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload(PRELOAD)
    return forkserver


def process(target: Callable[..., Any], *args: Any) -> multiprocessing.process.BaseProcess:
    """A process (not started) that runs ``target(*args)``."""
    return context().Process(target=_run, args=(target, *args))


def _run(target: Callable[..., Any], *args: Any) -> None:
    # What the fork server imported is never garbage: without this, the collector walks
    # all of it (and copies its pages) a few times in each process, some 0.5 s.
    gc.freeze()
    target(*args)


def use_environment(env: dict[str, str]) -> None:
    """In a process of :func:`context`: exactly these ``SOC_*`` variables, none older."""
    for key in [k for k in os.environ if k.startswith("SOC_")]:
        del os.environ[key]
    os.environ.update(env)
