"""What the access rule costs a HAPI request: with a token against without, in one run.

Two steps:

    python benchmarks/access.py prepare --work DIR [--days 30]
    python benchmarks/access.py run --work DIR [--runs 15] [--small 2000]

``prepare`` builds a socstack data folder with ``--days`` days of the demo
magnetometer's L2 field (1 Hz, three components) from simulated L0 through the
mission's own rules (the folder of ``benchmarks/hapi.py`` is the same and is reused).

``run`` makes a member of the magnetometer's team (``demo:mag``) with a read token,
starts ``socstack serve hapi`` on the folder, and asks for the public dataset
``demo_mag_l2_1s`` the same way as that team member and anonymously, alternating the
two so that the machine's drift falls on both:

- **throughput**: the whole window of ``B_GSE`` in binary (a month: 2,592,000 records,
  124 MB), uncompressed, with curl writing to ``/dev/null``; MB/s, medians of ``--runs``
  and the median of each run's ratio (its two transfers follow each other);
- **small requests**: one minute of ``B_GSE`` in binary (60 records, 2.9 kB) and the
  dataset's info, ``--small`` times each over one kept-alive connection, in blocks that
  alternate who asks; p50 and p95 latency.

(Not the catalog: a team member's lists more datasets than the public one, so the two
would not do the same work.)

The token is the one a HAPI client sends: ``Authorization: Bearer``. It is handed to
curl on its standard input, never on a command line. Last, the two steps a request
adds, timed in this process on the same catalog: identifying the request (a token the
accounts cache holds: ``SOC_TOKEN_CACHE_SECONDS``) and the authorization of one dataset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import SocstackProcess, demo_archive, demo_settings, machine, percentile

START = dt.date(2025, 1, 1)
DATASET = "demo_mag_l2_1s"
PARAMETER = "B_GSE"
USER = "bench-mag"


class Server(SocstackProcess):
    """``socstack serve hapi`` in its own process, on loopback."""

    def __init__(self, folder: Path):
        super().__init__(folder, ["serve", "hapi"], "/hapi/capabilities")


def team_token(folder: Path) -> str:
    """A fresh read token of a magnetometer team member (made on first use)."""
    from socstack.runtime import Runtime

    runtime = Runtime(demo_settings(folder))
    accounts = runtime.access.accounts
    if USER not in {u.name for u in accounts.users()}:
        accounts.add_user(USER, ["demo", "demo:mag"], actor="benchmark")
    text = accounts.create_token(USER, ["read"], label="benchmarks/access.py", actor="benchmark")[1]
    runtime.close()
    return text


def transfer(url: str, token: str | None) -> dict[str, float]:
    """One request with curl: bytes and seconds (the token, if any, on curl's stdin)."""
    config = f'url = "{url}"\nheader = "Accept-Encoding: identity"\n'
    if token is not None:
        config += f'header = "Authorization: Bearer {token}"\n'
    output = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download} %{time_total}",
            "--config",
            "-",
        ],
        input=config,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if output[0] != "200":
        raise RuntimeError(f"HTTP {output[0]} from {url}")
    return {"bytes": float(output[1]), "seconds": float(output[2])}


def latencies(port: int, path: str, token: str | None, count: int) -> list[float]:
    """Seconds of each of ``count`` requests for ``path`` over one kept-alive connection."""
    headers = {"Accept-Encoding": "identity"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    try:
        for _ in range(count):
            began = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            out.append(time.perf_counter() - began)
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status} from {path}")
    finally:
        connection.close()
    return out


def in_process(folder: Path, token: str, count: int = 20_000) -> dict[str, float]:
    """Microseconds of identifying a request and of authorizing one dataset, in-process."""
    from socstack.access import ANONYMOUS, Action
    from socstack.access.http import identity_of
    from socstack.runtime import Runtime

    runtime = Runtime(demo_settings(folder))
    access = runtime.access
    headers = {"authorization": f"Bearer {token}"}
    identity = identity_of(access, headers, None, "127.0.0.1")  # the cache holds it now
    out: dict[str, float] = {}
    for name, call in {
        "identify, token": lambda: identity_of(access, headers, None, "127.0.0.1"),
        "identify, anonymous": lambda: identity_of(access, {}, None, "127.0.0.1"),
        "authorize, team member": lambda: access.authorize(
            identity, Action.READ, mission="demo", product="mag_l2"
        ),
        "authorize, anonymous": lambda: access.authorize(
            ANONYMOUS, Action.READ, mission="demo", product="mag_l2"
        ),
    }.items():
        began = time.perf_counter()
        for _ in range(count):
            call()
        out[name] = (time.perf_counter() - began) / count * 1e6
    runtime.close()
    return out


def prepare(args: argparse.Namespace) -> None:
    demo_archive(args.work / f"socstack-{args.days}", START, {"mag": args.days})


def run(args: argparse.Namespace) -> None:
    folder: Path = args.work / f"socstack-{args.days}"
    if not (folder / "ready").exists():
        raise SystemExit(f"{folder} is not prepared: run 'prepare' first")
    token = team_token(folder)
    stop = START + dt.timedelta(days=args.days)
    month = (
        f"/hapi/data?dataset={DATASET}&parameters={PARAMETER}&format=binary"
        f"&start={START}T00:00:00Z&stop={stop}T00:00:00Z"
    )
    small = {
        "data, one minute": (
            f"/hapi/data?dataset={DATASET}&parameters={PARAMETER}&format=binary"
            f"&start={START}T12:00:00Z&stop={START}T12:01:00Z"
        ),
        "info": f"/hapi/info?dataset={DATASET}",
    }
    who = {"anonymous": None, "team token": token}
    speeds: dict[str, list[float]] = {name: [] for name in who}
    times: dict[tuple[str, str], list[float]] = {(k, n): [] for k in small for n in who}
    server = Server(folder)
    try:
        for credential in who.values():  # warm-up, not counted
            transfer(server.base + month, credential)
            for path in small.values():
                latencies(server.port, path, credential, 20)
        for k in range(args.runs):
            # Who goes first alternates, so that an effect of order falls on both.
            for name, credential in sorted(who.items(), reverse=bool(k % 2)):
                result = transfer(server.base + month, credential)
                speeds[name].append(result["bytes"] / 1e6 / result["seconds"])
            # The small requests in blocks, alternating who asks (--small per row in all).
            block = max(1, args.small // (4 * args.runs))
            for _ in range(4):
                for kind, path in small.items():
                    for name, credential in who.items():
                        batch = latencies(server.port, path, credential, block)
                        times[(kind, name)].extend(batch)
        size = transfer(server.base + month, None)["bytes"] / 1e6
    finally:
        server.stop()
    steps = in_process(folder, token)
    print(
        f"\n{dt.date.today()}, {machine()}; {args.days} days of 1 Hz {PARAMETER} ({size:.0f} MB"
        f" binary), median of {args.runs} runs; {args.small} small requests per row\n"
    )
    print("| request | anonymous | team token | token / anonymous |")
    print("|---|---|---|---|")
    anonymous, team = (statistics.median(speeds[n]) for n in who)
    # Each run's two transfers follow each other: their ratio cancels the machine's drift.
    paired = statistics.median(t / a for a, t in zip(*speeds.values(), strict=True))
    print(
        f"| {args.days} days, binary, MB/s | {anonymous:.0f} | {team:.0f} | {paired:.3f}"
        " (median of the runs' ratios) |"
    )
    rows: dict[str, Any] = {"mb_per_s": {n: speeds[n] for n in who}}
    for kind in small:
        for q in (50, 95):
            a = percentile(times[(kind, "anonymous")], q) * 1000
            t = percentile(times[(kind, "team token")], q) * 1000
            print(f"| {kind}, p{q} ms | {a:.2f} | {t:.2f} | {t - a:+.2f} ms |")
        rows[kind] = {n: times[(kind, n)] for n in who}
    print("\nin-process, per call:")
    for name, micro in steps.items():
        print(f"- {name}: {micro:.1f} µs")
    if args.json:
        args.json.write_text(json.dumps({**rows, "in_process_us": steps}, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("prepare", help="build the archive")
    make.add_argument("--work", type=Path, required=True)
    make.add_argument("--days", type=int, default=30)
    go = commands.add_parser("run", help="measure")
    go.add_argument("--work", type=Path, required=True)
    go.add_argument("--days", type=int, default=30)
    go.add_argument("--runs", type=int, default=15)
    go.add_argument("--small", type=int, default=2000, help="small requests per row")
    go.add_argument("--json", type=Path)
    args = parser.parse_args()
    prepare(args) if args.command == "prepare" else run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
