"""The demo mission's detectors over a year: time, and precision and recall against truth.

The demo simulator knows where it put its shocks and its magnetosheath-like intervals
(``SolarWindModel.shocks(day)``, ``.sheaths(day)``). Each detector rule of
``missions/demo/mission.yaml`` runs here as the pipeline runs it (its parameters from
the YAML, the day plus the rule's margin, only events starting in the day kept), on
the model's plasma and field at the L2 cadences (plasma every 4 s, field every 1 s).
These are the values L2 is made from, without the instrument's counting noise or the
data gaps: what is measured is the detector, not the instrument.

Matching is one to one. A detected shock is true if a simulated shock lies within
``--tolerance`` (5 min) of it; a dense-plasma interval is true if it overlaps a
simulated sheath. Recall counts the simulated events matched. Change points have no
truth in the model; their count per day is given. Prints a Markdown table.

    python benchmarks/mining.py --days 365
    python benchmarks/mining.py --similarity   # also benchmarks/similarity.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import machine

from socstack.mining.detectors import Series, get_detector
from socstack.mission.loader import load_mission
from socstack.times import duration_ns

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "missions" / "demo"))

from demo_mission.simulate.solar_wind import DAY, EPOCH, SolarWindModel  # noqa: E402

NS = 1_000_000_000


@dataclass
class Score:
    """One detector rule's run over the days."""

    rule: str
    detector: str
    version: str
    parameters: dict
    found: int = 0
    true: int = 0
    hits: int = 0
    matched: int = 0
    seconds: list[float] | None = None


def _series(model: SolarWindModel, lo: float, hi: float) -> dict[str, Series]:
    """The model's plasma (4 s) and field magnitude (1 s) over [lo, hi) s since EPOCH."""
    plasma = model.state(np.arange(lo, hi, 4.0))
    field = model.state(np.arange(lo, hi, 1.0))
    base = np.datetime64(EPOCH.replace(tzinfo=None), "ns")

    def times(t: np.ndarray) -> np.ndarray:
        return base + (t * NS).astype("timedelta64[ns]")

    speed = np.sqrt(np.sum(plasma.velocity**2, axis=1))
    return {
        "pls_l2.density": Series(times(plasma.time), plasma.density),
        "pls_l2.speed": Series(times(plasma.time), speed),
        "pls_l2.temperature": Series(times(plasma.time), plasma.temperature),
        "mag_l2.b_mag": Series(times(field.time), np.sqrt(np.sum(field.field**2, axis=1))),
    }


def _one_to_one(found: list[tuple[float, float]], truth: list[tuple[float, float]], pad: float):
    """(detections matched, truths matched): greedy, each truth used once."""
    used: set[int] = set()
    hits = 0
    for start, stop in found:
        for k, (t0, t1) in enumerate(truth):
            if k not in used and start <= t1 + pad and stop >= t0 - pad:
                used.add(k)
                hits += 1
                break
    return hits, len(used)


def run(days: int, first: dt.date, tolerance: float) -> list[Score]:
    mission = load_mission(REPO / "missions" / "demo")
    model = SolarWindModel()
    rules = [r for r in mission.rules.values() if r.detector is not None]
    scores = []
    for rule in rules:
        spec = rule.detector
        detector = get_detector(spec.name)
        scores.append(
            Score(rule.id, spec.name, detector.version, dict(spec.parameters), seconds=[])
        )
    day0 = (first - EPOCH.date()).days
    for n in range(day0, day0 + days):
        lo, hi = n * DAY, (n + 1) * DAY
        truth_shocks = [(s.time, s.time) for d in (n,) for s in model.shocks(d)]
        truth_sheaths = [(s.start, s.stop) for d in (n,) for s in model.sheaths(d)]
        for rule, score in zip(rules, scores, strict=True):
            spec = rule.detector
            margin = (duration_ns(rule.margin) or 0) / NS
            data = _series(model, lo - margin, hi + margin)
            series = {role: data[ref] for role, ref in spec.variables.items()}
            detector = get_detector(spec.name)
            parameters = detector.validate(spec.parameters)
            began = time.perf_counter()
            events = detector.detect(series, parameters)
            score.seconds.append(time.perf_counter() - began)
            base = np.datetime64(EPOCH.replace(tzinfo=None), "ns")
            events = events.starting_in(base + np.timedelta64(int(lo * NS), "ns"),
                                        base + np.timedelta64(int(hi * NS), "ns"))  # fmt: skip
            spans = [
                ((a - base) / np.timedelta64(1, "s"), (b - base) / np.timedelta64(1, "s"))
                for a, b in zip(events.start, events.stop, strict=True)
            ]
            score.found += len(spans)
            if spec.name == "shock":
                truth, pad = truth_shocks, tolerance
            elif spec.name == "threshold":
                truth, pad = truth_sheaths, 0.0
            else:
                continue
            score.true += len(truth)
            hits, matched = _one_to_one(spans, truth, pad)
            score.hits += hits
            score.matched += matched
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    parser.add_argument("--tolerance", type=float, default=300.0, help="shock match, s")
    parser.add_argument("--similarity", action="store_true", help="run similarity.py too")
    args = parser.parse_args()
    began = time.perf_counter()
    scores = run(args.days, args.start, args.tolerance)
    print(f"{machine()}; {args.days} days from {args.start}; {time.perf_counter() - began:.0f} s")
    print()
    print("| rule | detector | version | events found | true events | precision | recall"
          " | median per day (s) | total (s) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for s in scores:
        seconds = s.seconds or [0.0]
        precision = f"{s.hits / s.found:.3f}" if s.found and s.true else "n/a"
        recall = f"{s.matched / s.true:.3f}" if s.true else "n/a"
        true = str(s.true) if s.detector != "changepoint" else "n/a"
        print(
            f"| {s.rule} | {s.detector} | {s.version} | {s.found} | {true} | {precision}"
            f" | {recall} | {statistics.median(seconds):.3f} | {sum(seconds):.1f} |"
        )
    if args.similarity:
        path = Path(__file__).with_name("similarity.py")
        if not path.exists():
            raise SystemExit("benchmarks/similarity.py is not here")
        spec = importlib.util.spec_from_file_location("similarity_benchmark", path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main([])


if __name__ == "__main__":
    main()
