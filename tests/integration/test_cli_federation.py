"""``socstack harvest`` and ``socstack export`` as an operator runs them.

A second socstack serves the processed demo days; ``harvest run`` pulls its field into
a data folder of the ``peertest`` mission, ``harvest status`` says where it stands, and
a second run fetches nothing. ``export check`` passes a demo CDF and refuses a cut
one; ``export cloudcatalog`` writes the CloudCatalog of the released files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.test_cli import run
from tests.integration.test_hapi import LiveServer
from tests.integration.test_harvest import PEERTEST


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "SOC_DATA_DIR": str(tmp_path / "ours"),
        "SOC_MISSIONS": str(PEERTEST),
        "SOC_HARVEST_CONTACT": "soc@peertest.example",
    }
    for key in ("SOC_DATABASE_URL", "SOC_ARCHIVE_URL", "SOC_PEERS"):
        monkeypatch.delenv(key, raising=False)
    return values


def test_harvest_run_and_status(processed_archive: Path, env: dict[str, str]) -> None:
    with LiveServer(processed_archive) as peer:
        env["SOC_PEERS"] = json.dumps({"demo_soc": peer})
        first = run("harvest", "run", env=env)
        assert first.exit_code == 0, first.output
        assert "peertest/mag: 2 archived, 0 unchanged, 0 empty, 0 failed" in first.output
        again = run("harvest", "run", "--json", env=env)
        assert again.exit_code == 0, again.output
        [report] = json.loads(again.output)
        assert report["archived"] == [] and report["skipped"] == 2
        status = run("harvest", "status", env=env)
        assert f"peertest/mag <- {peer} demo_mag_l2_1s (interface 1" in status.output
        assert "2 archived" in status.output
    assert run("harvest", "run", "--product", "nothing", env=env).exit_code == 2
    down = run("harvest", "run", env=env)  # the peer is gone: one clear line, exit 1
    assert down.exit_code == 1 and "cannot reach" in down.output


def test_export_check_and_cloudcatalog(processed_archive: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(processed_archive, folder)
    files = sorted((folder / "archive").glob("**/*.cdf"))
    good = files[0]
    cut = tmp_path / good.name
    cut.write_bytes(good.read_bytes()[:5000])
    assert run("export", "check", str(good)).exit_code == 0
    refused = run("export", "check", str(good), str(cut))
    assert refused.exit_code == 1 and f"{cut}: 1 problems" in refused.output
    env = {"SOC_DATA_DIR": str(folder), "SOC_DATABASE_URL": f"sqlite:///{folder}/catalog.sqlite"}
    made = run("export", "cloudcatalog", env=env)
    assert made.exit_code == 0, made.output
    catalog = json.loads((folder / "archive" / "catalog.json").read_text())
    assert catalog["version"] == "1.1" and catalog["catalog"], catalog
    again = run("export", "cloudcatalog", env=env)
    assert "0 files written" in again.output


def test_harvest_add_declares_a_peers_dataset(
    processed_archive: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """``harvest add`` appends a product and its dataset; the mission loads; a run harvests it."""
    folder = tmp_path / "mission"
    shutil.copytree(PEERTEST, folder)
    yaml_path = folder / "mission.yaml"
    before = yaml_path.read_text()
    env["SOC_MISSIONS"] = str(folder)
    with LiveServer(processed_archive) as peer:
        args = ("harvest", "add", peer, "demo_mag_l2_1s", "--mission-dir", str(folder))
        dry = run(*args, "--product", "field", "--dry-run", env=env)
        assert dry.exit_code == 0, dry.output
        assert "  field:" in dry.output and yaml_path.read_text() == before
        unknown = run("harvest", "add", peer, "no_such_dataset", "--mission", "peertest", env=env)
        assert unknown.exit_code == 1 and "no_such_dataset" in unknown.output
        assert "Traceback" not in unknown.output
        bad = run(*args, "--parameter", "nope", env=env)
        assert bad.exit_code == 2 and "nope" in bad.output
        dup = run(*args, "--product", "mag", env=env)
        assert dup.exit_code == 1 and "already" in dup.output
        assert yaml_path.read_text() == before
        refused = run(*args, "--product", "field", "--level", "L2", env=env)  # not a level
        assert refused.exit_code == 1 and "refused" in refused.output and "level" in refused.output
        assert yaml_path.read_text() == before  # put back as it was
        added = run(
            *args, "--product", "field", "--parameter", "B_mag", "--instrument", "fgm",
            "--recheck", "P0D", "--rate", "50", env=env,
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "socstack harvest run --mission peertest --product field" in added.output
        after = yaml_path.read_text()
        assert after.startswith(before.split("\nproducts:")[0])  # comments kept
        assert "# a changed day is found by If-Modified-Since" in after
        again = run(*args, "--product", "field", env=env)
        assert again.exit_code == 1 and "already" in again.output
        harvested = run("harvest", "run", "--product", "field", env=env)
        assert harvested.exit_code == 0, harvested.output
        assert "peertest/field: 2 archived" in harvested.output
    down = run("harvest", "add", peer, "demo_mag_l2_1s", "--mission-dir", str(folder), env=env)
    assert down.exit_code == 1 and "cannot reach" in down.output
