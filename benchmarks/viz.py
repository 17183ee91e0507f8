"""Viz: time from a request to a rendered figure in a real browser, and the bytes sent.

    python benchmarks/viz.py --work DIR prepare
    python benchmarks/viz.py --work DIR run [--runs 5]

``prepare`` builds a data folder with 365 days of the demo magnetometer's 1 Hz L2 field
and 31 days of the plasma analyzer's L2 (its 32-step energy spectrum every 4 s), from
simulated L0 through the mission's own rules.

``run`` starts ``socstack up --no-demo --no-watch --no-process`` on that folder (the viz
reads the same process's HAPI server over HTTP, as it reads any other) and opens shared
links in Debian's headless Chromium:

- one day of ``B_GSE`` (86,400 vectors), one year of ``B_GSE`` (31.5 million vectors),
  and one month of the ``eflux`` spectrogram (669,600 spectra of 32 values);
- *cold*: a freshly started socstack on the same port, so the viz downloads the window
  from HAPI (the browser keeps its cached page scripts); *warm*: the same link again (served from the
  viz's cache of downloads, reduced again for the plot).

The time runs from the navigation's start to the moment the browser has drawn the
traces (the page's own scripts, the link's callbacks, the download, the reduction,
the transfer and plotly's drawing). Bytes are what the browser received for the
figure: the transfer sizes of every Dash callback response of the load (the static
scripts, cached by the browser after the first load, are reported apart).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import SocstackProcess, demo_archive, machine

START = dt.date(2025, 1, 1)
CASES = {
    "day of 1 Hz field": ("demo_mag_l2_1s", "B_GSE", "2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z"),
    "year of 1 Hz field": ("demo_mag_l2_1s", "B_GSE", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    "month of spectrogram": ("demo_pls_l2", "eflux", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),
}  # fmt: skip

_DRAWN = """
const done = arguments[arguments.length - 1];
const deadline = performance.now() + arguments[0] * 1000;
function check() {
  try { look(); } catch (e) { setTimeout(check, 10); }  // the page is still being built
}
function look() {
  const gd = document.querySelector('#graph .js-plotly-plot');
  const stats = document.getElementById('stats');
  const message = document.getElementById('message');
  if (message && !message.hidden && message.textContent) {
    done({error: message.textContent});
    return;
  }
  if (gd && gd._fullData && gd._fullData.length && stats && stats.textContent) {
    const now = performance.now();
    const entries = performance.getEntriesByType('resource');
    const dash = entries.filter(e => e.name.includes('_dash-update-component'));
    const statics = entries.filter(e => !e.name.includes('_dash-update-component'));
    done({
      drawn: now,
      stats: stats.textContent,
      traces: gd._fullData.length,
      callbacks: dash.map(e => ({start: e.startTime, end: e.responseEnd,
                                 bytes: e.transferSize, body: e.decodedBodySize})),
      static_bytes: statics.reduce((s, e) => s + e.transferSize, 0),
    });
    return;
  }
  if (performance.now() > deadline) { done({error: 'timed out'}); return; }
  setTimeout(check, 10);
}
check();
"""


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(args: argparse.Namespace) -> None:
    demo_archive(args.work / "viz-data", START, {"pls": 31, "mag": 365})


class Socstack(SocstackProcess):
    """``socstack up`` serving the prepared folder, without processing or a drop box."""

    def __init__(self, folder: Path, port: int | None = None):
        command = ["up", "--no-demo", "--no-watch", "--no-process"]
        env = {"SOC_VIZ_CACHE_MB": "6000"}
        super().__init__(folder, command, "/viz/", env=env, port=port)


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic", "--no-first-run", "--window-size=1400,1000",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_script_timeout(600)
    driver.command_executor.client_config.timeout = 900  # a cold year takes a while
    return driver


def measure(driver: Any, site: Socstack, case: tuple[str, str, str, str]) -> dict[str, Any]:
    dataset, parameter, start, stop = case
    url = (
        f"{site.base}/viz/?server={site.base}/hapi&dataset={dataset}"
        f"&parameters={parameter}&start={start}&stop={stop}"
    )
    driver.get(url)
    result = driver.execute_async_script(_DRAWN, 600)
    if "error" in result:
        raise RuntimeError(f"{dataset} {start}..{stop}: {result['error']}")
    callbacks = result["callbacks"]
    figure = max(callbacks, key=lambda c: c["body"])
    return {
        "seconds": result["drawn"] / 1000,
        "figure_callback_seconds": (figure["end"] - figure["start"]) / 1000,
        "drawing_seconds": (result["drawn"] - figure["end"]) / 1000,
        "callback_bytes": sum(c["bytes"] for c in callbacks),
        "figure_bytes": figure["bytes"],
        "static_bytes": result["static_bytes"],
        "stats": result["stats"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = args.work / "viz-data"
    if not (folder / "ready").exists():
        raise SystemExit(f"{folder} is not prepared: run `prepare` first")
    site = Socstack(folder)
    driver = browser()
    results: dict[str, Any] = {"machine": machine(), "date": dt.date.today().isoformat()}
    try:
        measure(driver, site, CASES["day of 1 Hz field"])  # page scripts into the cache
        for name, case in CASES.items():
            if args.only and name not in args.only:
                continue
            cold, warm = [], []
            for k in range(args.runs):
                site.stop()
                # Nothing downloaded yet; the same port, so the browser's cache of page
                # scripts (per origin) holds, as for a user of a restarted server.
                site = Socstack(folder, site.port)
                cold.append(measure(driver, site, case))
                warm.append(measure(driver, site, case))
                say(f"{name} run {k + 1}: cold {cold[-1]['seconds']:.2f} s, "
                    f"warm {warm[-1]['seconds']:.2f} s, {cold[-1]['callback_bytes'] / 1e6:.2f} MB; "
                    f"{cold[-1]['stats']}")  # fmt: skip
            results[name] = {"cold": summary(cold), "warm": summary(warm)}
    finally:
        driver.quit()
        site.stop()
    return results


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["max_callback_bytes"] = max(r["callback_bytes"] for r in runs)
    out["stats"] = runs[-1]["stats"]
    return out


def report(results: dict[str, Any]) -> None:
    print(f"\n{results['date']}, {results['machine']}\n")
    print("| view | cache | to drawn, s | figure callback, s | drawing, s | MB to the browser |")
    print("|---|---|---|---|---|---|")
    for name in CASES:
        if name not in results:
            continue
        for state in ("cold", "warm"):
            r = results[name][state]
            print(
                f"| {name} | {state} | {r['seconds']:.2f} | {r['figure_callback_seconds']:.2f} | "
                f"{r['drawing_seconds']:.2f} | {r['max_callback_bytes'] / 1e6:.2f} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the data (kept)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="simulate and process the data")
    one = commands.add_parser("run", help="time the views in the browser")
    one.add_argument("--runs", type=int, default=5)
    one.add_argument("--only", choices=list(CASES), action="append", help="these views only")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args)
        return 0
    results = run(args)
    report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
