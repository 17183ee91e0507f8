"""A notebook run's overhead: an empty notebook from submit to succeeded, on the embedded broker.

Real `socstack planner` and `socstack worker --queues analysis` processes on a scratch
data folder (SQLite catalog, SQLite broker); each run is submitted as the API does
(:func:`socstack.analysis.runs.submit`, ``force`` so none is deduplicated) and timed
until its job is ``succeeded``. The time holds the planner's dispatch, the claim, the
kernel's start and shutdown, papermill, the HTML and the archiving of the artifacts.

    .venv/bin/python benchmarks/analysis_runs.py --runs 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from socstack.access.identity import Identity
from socstack.analysis.library import find
from socstack.analysis.runs import submit
from socstack.catalog.migrate import upgrade
from socstack.catalog.models import Job, JobStatus
from socstack.config import Settings, bundled_missions_dir
from socstack.runtime import Runtime


def main() -> None:
    """Time ``--runs`` empty runs; print each and the median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="socstack-bench-runs-") as scratch:
        data = Path(scratch)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SOC_")},
            "SOC_DATA_DIR": str(data),
            "SOC_MISSIONS": str(bundled_missions_dir() / "demo"),
            "SOC_PLANNER_INTERVAL": "0.05",
            "SOC_LOG_FORMAT": "text",
        }
        settings = Settings(data_dir=data, missions=[bundled_missions_dir() / "demo"])
        runtime = Runtime(settings)
        upgrade(runtime.catalog)
        runtime.access.accounts.add_user("bench", ["demo"], actor="bench")
        identity = Identity("bench", frozenset({"demo"}), frozenset({"read", "run"}), via="token")
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "socstack", *command],
                env=env,
                stdout=(data / f"{command[0]}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            for command in (["planner"], ["worker", "--queues", "analysis", "--concurrency", "1"])
        ]
        notebook = find(settings, runtime.missions, "demo/empty.ipynb")
        seconds = []
        try:
            for n in range(args.runs + 1):  # the first run warms the worker up: not counted
                started = time.perf_counter()
                job_id = submit(runtime, identity, notebook, {}, force=True).job.id
                while True:
                    with runtime.catalog.session() as session:
                        state = session.get(Job, job_id).status  # type: ignore[union-attr]
                    if state not in (JobStatus.QUEUED, JobStatus.RUNNING):
                        break
                    time.sleep(0.02)
                took = time.perf_counter() - started
                if state != JobStatus.SUCCEEDED:
                    raise SystemExit(f"run {n} ended {state.value}")
                if n:
                    seconds.append(took)
                print(f"run {n}: {took:.2f} s{' (warm-up)' if not n else ''}")
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            runtime.close()
    print(f"p50 {statistics.median(seconds):.2f} s, min {min(seconds):.2f}, max {max(seconds):.2f}")


if __name__ == "__main__":
    main()
