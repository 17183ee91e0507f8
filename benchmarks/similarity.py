"""Similarity search and matrix profiles: a one-hour query against a year at 1 Hz.

Times :func:`socstack.mining.similarity.search` end to end (the cut to the range and the
regrid included) and :func:`~socstack.mining.similarity.find_similar` alone (MASS per
component, the top 10) for one parameter and for three, each a seeded random walk with
the query planted (shifted, scaled, noised) elsewhere; the planted copy must come
first. Then :func:`~socstack.mining.similarity.day_profile` (``stumpy.stump``) on one
day at 1 Hz and one at 60 s with a one-hour window, after the JIT compile, whose time
is given apart. Prints Markdown tables for benchmarks/README.md.

    python benchmarks/similarity.py --runs 3
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import stumpy
from _common import machine

from socstack.mining.similarity import day_profile, find_similar, regrid, search

T0 = np.datetime64("2025-01-01T00:00:00", "ns")
SECOND = np.timedelta64(1, "s")
HOUR = np.timedelta64(3600, "s")


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (Linux gives KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed(call: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of ``call`` and its last result (CPU time counts
    both cores' work, and shows less of the other tenants of a shared machine)."""
    wall, cpu, out = [], [], None
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        out = call()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(wall), statistics.median(cpu), out


def year(parameters: int, days: int, query: int, planted: int) -> list[tuple[Any, Any]]:
    """``parameters`` random walks at 1 Hz for ``days``, the hour at ``query`` copied to
    ``planted`` (seconds from the start) in each."""
    n = days * 86_400
    times = T0 + np.arange(n, dtype=np.int64) * SECOND
    out = []
    for seed in range(parameters):
        rng = np.random.default_rng(seed)
        values = np.cumsum(rng.standard_normal(n))
        values[planted : planted + 3600] = (
            5 + 2 * values[query : query + 3600] + rng.normal(scale=0.01, size=3600)
        )
        out.append((times, values.reshape(n, 1)))
    return out


def compile_mass() -> float:
    """Seconds of the first MASS on a small series: numba compiling stumpy's kernels."""
    started = time.perf_counter()
    walk = np.cumsum(np.random.default_rng(0).standard_normal(2000))
    times = T0 + np.arange(2000) * SECOND
    search([(times, walk[:, None])], times[100], times[200], times[0], times[-1], k=2)
    return time.perf_counter() - started


def bench_search(parameters: int, days: int, runs: int) -> dict[str, Any]:
    query, planted = 100 * 86_400 + 3 * 3600, 250 * 86_400 + 7 * 3600 + 17
    if planted + 3600 > days * 86_400:
        query, planted = days * 86_400 // 4, days * 86_400 // 2 + 17
    series = year(parameters, days, query, planted)
    r0, r1 = T0, T0 + days * 86_400 * SECOND
    q0, q1 = T0 + query * SECOND, T0 + (query + 3600) * SECOND

    def end_to_end():
        return search(series, q0, q1, r0, r1, k=10)

    wall, cpu, found = timed(end_to_end, runs)
    best = int(np.flatnonzero(found.attributes["rank"] == 1)[0])
    assert found.start[best] == T0 + planted * SECOND, found.start[best]
    assert len(found) == 10, len(found)
    regrid_wall, regrid_cpu, (grid, matrix) = timed(lambda: regrid(series, r0, r1, SECOND), runs)
    alone = timed(lambda: find_similar(grid, matrix, slice(query, query + 3600), 10), runs)
    return {
        "parameters": parameters,
        "points": len(series[0][0]),
        "search": (wall, cpu),
        "regrid": (regrid_wall, regrid_cpu),
        "find_similar": alone[:2],
        "distance": float(found.attributes["distance"][best]),
        "peak_gb": peak_rss_gb(),
    }


def bench_profile(step_s: int, runs: int) -> tuple[float, float]:
    n = 86_400 // step_s
    walk = np.cumsum(np.random.default_rng(5).standard_normal(n))
    times = T0 + np.arange(n) * step_s * SECOND
    wall, cpu, (_, profile, _) = timed(lambda: day_profile(times, walk, HOUR), runs)
    assert len(profile) == n - 3600 // step_s + 1
    assert np.isfinite(profile).all()
    return wall, cpu


def compile_stump() -> float:
    started = time.perf_counter()
    walk = np.cumsum(np.random.default_rng(0).standard_normal(200))
    day_profile(T0 + np.arange(200) * SECOND, walk, 20 * SECOND)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measure (median)")
    parser.add_argument("--days", type=int, default=365, help="length of the range")
    parser.add_argument(
        "--parameters", type=int, nargs="+", default=[1, 3], help="parameter counts to search"
    )
    parser.add_argument("--day-runs", type=int, default=1, help="runs of the 1 Hz day profile")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    args = parser.parse_args(argv)
    print(f"{machine()}; stumpy {stumpy.__version__}; median of {args.runs} runs\n")
    if not args.skip_search:
        print(f"MASS compile (first search, numba): {compile_mass():.1f} s\n", file=sys.stderr)
        print(
            "| parameters | points each | search(), wall (CPU) s | regrid, wall (CPU) s "
            "| find_similar, wall (CPU) s | rank-1 distance | peak RSS GB |"
        )
        print("|---|---|---|---|---|---|---|")
        for count in args.parameters:
            row = bench_search(count, args.days, args.runs)
            print(
                f"| {row['parameters']} | {row['points']:,} "
                f"| {row['search'][0]:.1f} ({row['search'][1]:.1f}) "
                f"| {row['regrid'][0]:.1f} ({row['regrid'][1]:.1f}) "
                f"| {row['find_similar'][0]:.1f} ({row['find_similar'][1]:.1f}) "
                f"| {row['distance']:.3f} | {row['peak_gb']:.1f} |",
                flush=True,
            )
    if not args.skip_profile:
        print(f"\nstump compile (first day_profile, numba): {compile_stump():.1f} s\n")
        print("| day | points | window | day_profile, wall (CPU) s | runs |")
        print("|---|---|---|---|---|")
        for step_s, runs in ((60, args.runs), (1, args.day_runs)):
            wall, cpu = bench_profile(step_s, runs)
            print(
                f"| {step_s} s cadence | {86_400 // step_s:,} | 1 h ({3600 // step_s:,} points) "
                f"| {wall:.2f} ({cpu:.2f}) | {runs} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
