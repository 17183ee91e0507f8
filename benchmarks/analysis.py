"""Analysis next to the data: socstack.client direct, over HAPI, and hapiclient, side by side.

Two steps:

    python benchmarks/analysis.py prepare --work DIR [--days 365]
    python benchmarks/analysis.py run --work DIR [--days 365] [--runs 3] [--read-days N]

``prepare`` builds a socstack data folder with ``--days`` days of the demo
magnetometer's 1 Hz L2 field, made from simulated L0 by the mission's own rules (the
folder of ``benchmarks/hapi.py``, shared when both use the same ``--work`` and days).

``run`` reads the whole window of ``demo_mag_l2_1s`` (``B_GSE`` and ``B_mag``: 86,400
records a day) three ways in one process, each the median of ``--runs`` repeats after a
warm-up:

- ``socstack.client`` direct: the archive's CDF files through the catalog;
- ``socstack.client`` over HAPI binary, from ``socstack serve hapi`` on loopback;
- ``hapiclient`` (the reference client) from the same server, binary, no cache.

Then the hourly means of ``B_mag`` over the window (checked against xarray's
``resample``): serially (one direct read, then one pass over the hours), and with ``chunks="1D"`` on a two-worker ``distributed.LocalCluster``
(one thread per worker process), where each worker reads the days it is given and
sends back their 24 means (:func:`hourly_by_chunk`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import statistics
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    SocstackProcess,
    demo_archive,
    demo_settings,
    free_port,
    machine,
    two_step_parser,
)

START = dt.date(2025, 1, 1)
DATASET = "demo_mag_l2_1s"
PARAMETERS = ["B_GSE", "B_mag"]


class HapiProcess(SocstackProcess):
    """socstack's HAPI app under uvicorn in its own process, on loopback.

    As ``socstack serve hapi`` runs it (uvicorn, no access log), started from Python
    because that command fails on this branch's base (up.serve lacks the
    ``forwarded_allow_ips`` its callers pass).
    """

    def __init__(self, folder: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        code = (
            "import sys, uvicorn; sys.path.insert(0, sys.argv[2])\n"
            "from _common import demo_settings\n"
            "from pathlib import Path\n"
            "from socstack.hapi.app import create_app\n"
            "from socstack.runtime import Runtime\n"
            "app = create_app(Runtime(demo_settings(Path(sys.argv[1]))))\n"
            "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[3]), log_level='warning',"
            " access_log=False)\n"
        )
        here = str(Path(__file__).resolve().parent)
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(folder), here, str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/hapi/capabilities", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the HAPI server did not start") from None
                time.sleep(0.2)


def folder_of(work: Path, days: int) -> Path:
    return work / f"socstack-{days}"


#: Seconds of each measurement's warm-up call (the direct read's first one hashes files).
WARM_UP: list[float] = []


def timed(call: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The median seconds of ``runs`` calls after one warm-up call, and the last result."""
    begun = time.perf_counter()
    result = call()
    WARM_UP.append(time.perf_counter() - begun)
    seconds = []
    for _ in range(runs):
        del result
        begun = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - begun)
    return statistics.median(seconds), result


HOUR = 3_600_000_000_000


def hour_offsets(times: Any) -> tuple[Any, Any]:
    """The hours [first, last] of ``times`` (ns) and the offset of each one's first record."""
    import numpy as np

    ns = np.asarray(times, dtype="datetime64[ns]").view(np.int64)
    starts = np.arange(ns[0] // HOUR * HOUR, ns[-1] + 1, HOUR)
    return starts, np.searchsorted(ns, starts)


def hour_means(values: Any, offsets: Any) -> Any:
    """The mean of each hour's finite values (NaN for an hour without any)."""
    import numpy as np

    values = np.asarray(values)
    valid = ~np.isnan(values)
    sums = np.add.reduceat(np.where(valid, values, 0.0), offsets)
    counts = np.add.reduceat(valid.astype(np.int64), offsets)
    counts[np.diff(offsets, append=len(values)) == 0] = 0  # reduceat's empty hours
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def hourly_serial(field: Any) -> Any:
    """The hourly means of an in-memory DataArray, in one pass."""
    import xarray as xr

    starts, offsets = hour_offsets(field.indexes["time"])
    means = hour_means(field.values, offsets)
    return xr.DataArray(means, coords={"time": starts.astype("datetime64[ns]")}, dims="time")


def hourly_by_chunk(field: Any) -> Any:
    """Hourly means computed where each day-long chunk is read, 24 numbers sent back.

    Hours nest in the chunks (cut at midnight), so each chunk's means are final. The
    client sends each task the offsets of its hours (25 numbers), not the day's times:
    a year's times are 250 MB to pickle. xarray's ``resample`` on Dask arrays (without
    flox) builds about four tasks per hour and ships every value to the client.
    """
    import dask
    import numpy as np
    import xarray as xr

    times = field.indexes["time"]
    edges = np.cumsum((0, *field.chunks[0]))
    blocks = field.data.to_delayed().ravel()
    starts, parts = [], []
    for block, a, b in zip(blocks, edges[:-1], edges[1:], strict=True):
        hours, offsets = hour_offsets(times[a:b])
        starts.append(hours)
        parts.append(dask.delayed(hour_means)(block, offsets))
    means = np.concatenate(dask.compute(*parts))
    when = np.concatenate(starts).astype("datetime64[ns]")
    return xr.DataArray(means, coords={"time": when}, dims="time")


def prepare(args: argparse.Namespace) -> None:
    demo_archive(folder_of(args.work, args.days), START, {"mag": args.days})


def run(args: argparse.Namespace) -> None:
    import numpy as np
    from hapiclient import hapi

    from socstack.client import Client
    from socstack.runtime import Runtime

    folder = folder_of(args.work, args.days)
    if not (folder / "ready").exists():
        raise SystemExit(f"{folder} is not prepared: run prepare first")
    start = f"{START.isoformat()}T00:00:00Z"
    span = args.read_days or args.days
    stop = f"{(START + dt.timedelta(days=span)).isoformat()}T00:00:00Z"
    rows: dict[str, float] = {}
    records = 0

    runtime = Runtime(demo_settings(folder))
    direct = Client(runtime=runtime)
    rows["socstack.client, direct"], ds = timed(
        lambda: direct.get(DATASET, start, stop, PARAMETERS), args.runs
    )
    first = WARM_UP[-1]
    records = ds.sizes["time"]
    reference = ds
    server = HapiProcess(folder)
    try:
        url = f"{server.base}/hapi"
        remote = Client(url)
        rows["socstack.client, HAPI binary"], ds = timed(
            lambda: remote.get(DATASET, start, stop, PARAMETERS), args.runs
        )
        assert ds.sizes["time"] == records, "the same records over HAPI"
        np.testing.assert_array_equal(ds["B_GSE"].values, reference["B_GSE"].values)
        del ds
        remote.close()
        options = {"cache": False, "usecache": False, "format": "binary", "logging": False}
        logging.getLogger("hapiclient").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows["hapiclient, binary"], (data, _) = timed(
                lambda: hapi(url, DATASET, ",".join(PARAMETERS), start, stop, **options), args.runs
            )
        assert len(data) == records, f"hapiclient read {len(data)} records, not {records}"
        del data
    finally:
        server.stop()
    del reference

    means: dict[str, float] = {}

    def serial() -> Any:
        return hourly_serial(direct.get(DATASET, start, stop, ["B_mag"])["B_mag"])

    means["serial: direct read, then the hours' means"], expected = timed(serial, args.runs)
    # The means are pandas' (resample skips NaN as these do).
    field = direct.get(DATASET, start, stop, ["B_mag"])["B_mag"]
    pandas = field.resample(time="1h").mean()
    del field
    np.testing.assert_allclose(expected.values, pandas.values, equal_nan=True)
    assert (expected.indexes["time"] == pandas.indexes["time"]).all()
    from distributed import Client as DaskClient
    from distributed import LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        DaskClient(cluster),
    ):

        def parallel() -> Any:
            field = direct.get(DATASET, start, stop, ["B_mag"], chunks="1D")
            return hourly_by_chunk(field["B_mag"])

        means["Dask, chunks=1D, LocalCluster of 2 workers"], hourly = timed(parallel, args.runs)
    np.testing.assert_allclose(hourly.values, expected.values, equal_nan=True)
    assert (hourly.indexes["time"] == expected.indexes["time"]).all()
    direct.close()
    runtime.close()

    print(
        f"\n{dt.date.today()}, {machine()}; {span} days of 1 Hz {DATASET} "
        f"({', '.join(PARAMETERS)}: {records:,} records), median of {args.runs} runs\n"
    )
    print("| reader | seconds | records/s | vs hapiclient |")
    print("|---|---|---|---|")
    base = rows["hapiclient, binary"]
    for name, seconds in rows.items():
        print(
            f"| {name} | {seconds:.2f} | {records / seconds / 1e6:.1f} M | {base / seconds:.1f}x |"
        )
    print(
        f"\nthe direct read's first call in this process: {first:.2f} s (each file's"
        " checksum computed once; the page cache may be cold)"
    )
    print(f"\nhourly means of B_mag ({len(expected):,} hours)\n")
    print("| how | seconds |")
    print("|---|---|")
    for name, seconds in means.items():
        print(f"| {name} | {seconds:.2f} |")
    if args.json:
        args.json.write_text(
            json.dumps({"records": records, "read": rows, "first": first, "means": means})
        )


def main() -> int:
    parser, measure = two_step_parser(__doc__, days=365, runs=3)
    measure.add_argument(
        "--read-days", type=int, help="read only the first N days of the prepared ones"
    )
    args = parser.parse_args()
    prepare(args) if args.command == "prepare" else run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
