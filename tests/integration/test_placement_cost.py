"""What a placement costs: the services' own measurements, priced by the operator's table.

The meter is read off the real web app after real requests; the estimate is checked
against numbers worked out by hand from a metrics text written for the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from socstack._exceptions import ConfigError
from socstack.catalog.migrate import upgrade
from socstack.cli import main
from socstack.pipeline.metrics import render
from socstack.placement import MOVABLE, load_prices, measured
from socstack.runtime import Runtime
from socstack.usage import METER
from socstack.web import create_web_app
from tests.conftest import explicit_settings
from tests.deploy.tools import K8S_DIR

PRICES = """currency: EUR
hours_per_month: 730
between_sites_gb: 0.02
onprem: {core_hour: 0.02, gb_out: 0.0, gb_month: 0.01}
cloud: {core_hour: 0.05, gb_out: 0.09, gb_month: 0.023}
"""
#: One process, up an hour when read: 36 CPU seconds, three quarters of its request time
#: on HAPI, 1 GB sent by HAPI; the catalog's processing.any jobs ran 8640 s in a day.
METRICS = """# TYPE socstack_http_busy_seconds counter
socstack_http_busy_seconds_total{service="hapi"} 3.0
socstack_http_busy_seconds_total{service="api"} 1.0
# TYPE socstack_http_sent_bytes counter
socstack_http_sent_bytes_total{service="hapi"} 1e9
socstack_http_sent_bytes_total{service="api"} 0
# TYPE socstack_process_cpu_seconds counter
socstack_process_cpu_seconds_total 36.0
# TYPE socstack_process_start_time_seconds gauge
socstack_process_start_time_seconds 1000.0
# TYPE socstack_job_run_seconds_day gauge
socstack_job_run_seconds_day{queue="processing.any"} 8640.0
# TYPE socstack_archive_bytes gauge
socstack_archive_bytes{mission="demo",level="l2"} 2e9
"""


def test_the_meter_counts_what_each_service_sent(tmp_path: Path) -> None:
    runtime = Runtime(explicit_settings(tmp_path))
    upgrade(runtime.catalog)
    before = METER.snapshot()
    with TestClient(create_web_app(runtime)) as client:
        plain = {"Accept-Encoding": "identity"}
        hapi = client.get("/hapi/capabilities", headers=plain)
        api = client.get("/api/health", headers=plain)
        assert hapi.status_code == 200 and api.status_code == 200
    after = METER.snapshot()
    for service, response in (("hapi", hapi), ("api", api)):
        old = before.get(service)
        assert after[service].requests - (old.requests if old else 0) == 1
        assert after[service].sent - (old.sent if old else 0) == len(response.content)
        assert after[service].busy > (old.busy if old else 0)
    # What /metrics says is what the estimate reads: the names agree.
    text = render(runtime).decode()
    runtime.close()
    use = measured([(text, METER.started + 3600)], 730)
    assert use["hapi"].core_hours > 0
    sent = METER.snapshot()["hapi"].sent
    assert use["hapi"].gb_out == pytest.approx(sent * 730 / 1e9)


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    (tmp_path / "prices.yaml").write_text(PRICES)
    metrics = tmp_path / "metrics.txt"
    metrics.write_text(METRICS)
    os.utime(metrics, (1000.0 + 3600, 1000.0 + 3600))  # read an hour after the start
    result = CliRunner().invoke(
        main,
        ["placement", "--prices", str(tmp_path / "prices.yaml"), "--metrics", str(metrics), *args],
    )
    return result.exit_code, result.output


def test_a_placement_is_priced_from_the_measurements(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "--cloud", "hapi", "--json")
    assert code == 0, output
    found = json.loads(output)
    rows = {r["service"]: r for r in found["services"]}
    # HAPI: 27 CPU s an hour (3/4 of 36) for 730 h is 5.475 core-hours; 730 GB out.
    hapi = rows["hapi"]
    assert hapi["site"] == "cloud"
    assert hapi["core_hours"] == pytest.approx(5.475)
    assert hapi["gb_out"] == pytest.approx(730.0)
    assert hapi["onprem"] == pytest.approx(5.475 * 0.02)
    assert hapi["cloud"] == pytest.approx(5.475 * 0.05 + 730 * 0.09 + 730 * 0.02)
    # The portable workers: 8640 s a day is 73 core-hours a month.
    assert rows["worker"]["core_hours"] == pytest.approx(73.0)
    assert rows["worker"]["site"] == "onprem"
    assert found["storage"] == pytest.approx(2 * 0.01)
    on_prem = sum(r["onprem"] for r in rows.values()) + 0.02
    assert found["all_onprem"] == pytest.approx(on_prem)
    assert found["placement"] == pytest.approx(on_prem - hapi["onprem"] + hapi["cloud"])


def test_the_table_says_what_moves_and_what_it_costs(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "--cloud", "worker")
    assert code == 0, output
    assert "worker     cloud" in output
    assert "this placement" in output and "EUR/month" in output
    assert "not counted: what cloud workers read" in output


def test_mistakes_are_one_line(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "--cloud", "planner")
    assert code == 78 and "cannot place planner" in output and "movable: hapi" in output
    (tmp_path / "bad.yaml").write_text("onprem: {core_hour: -1}\ncloud: {core_hour: 1}\n")
    with pytest.raises(ConfigError, match=r"onprem\.core_hour"):
        load_prices(tmp_path / "bad.yaml")
    result = CliRunner().invoke(
        main,
        ["placement", "--prices", str(tmp_path / "bad.yaml"), "--metrics", "http://127.0.0.1:9/m"],
    )
    assert result.exit_code == 78 and "onprem.core_hour" in result.output
    assert "Traceback" not in result.output
    code, output = _run(tmp_path, "--metrics", "http://127.0.0.1:9/metrics")
    assert code == 1 and "127.0.0.1:9" in output and "Traceback" not in output


def test_what_can_move_is_what_kubernetes_can_place() -> None:
    components = sorted(p.name for p in (K8S_DIR / "components" / "cloud").iterdir())
    assert sorted(MOVABLE) == components
