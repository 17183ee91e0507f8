"""Detector rules and interval datasets in a mission's YAML: mistakes fail at load.

Each case edits the demo mission (a copy) and expects the one clear problem, with its
field; a detector's version is folded into its rule's code version.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from socstack._exceptions import ConfigError
from socstack.mission import load_mission
from tests.conftest import DEMO_MISSION

Edit = Callable[[dict[str, Any]], None]


def _mission_with(tmp_path: Path, edit: Edit) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO_MISSION, folder)
    path = folder / "mission.yaml"
    config = yaml.safe_load(path.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def _shocks(config: dict[str, Any]) -> dict[str, Any]:
    return config["rules"]["shocks"]


def test_the_demo_detectors_fold_their_versions_into_the_rules() -> None:
    mission = load_mission(DEMO_MISSION)
    rules = {r.id: r for r in mission.rules.values() if r.detector is not None}
    assert {r.code_version for r in rules.values()} == {
        "1.0.0+shock.1.0.0",
        "1.0.0+threshold.1.0.0",
        "1.1.0+changepoint.1.0.0",
    }
    assert {r.queue for r in rules.values()} == {"mining"}
    shocks = mission.datasets["demo_shocks"]
    assert shocks.parameters[0].name == "stopTime" and shocks.parameters[0].variable == "stop"
    assert shocks.lookback_ns == 3600 * 10**9


CASES: list[tuple[str, Edit, str, str]] = [
    (
        "misspelt parameter",
        lambda c: _shocks(c)["detector"].update(parameters={"windw": "PT8M"}),
        "rules.shocks.detector.parameters.windw",
        "unknown parameter of detector 'shock'",
    ),
    (
        "unknown detector",
        lambda c: _shocks(c)["detector"].update(name="shok"),
        "rules.shocks.detector.name",
        "no detector 'shok'",
    ),
    (
        "missing role",
        lambda c: _shocks(c)["detector"]["variables"].pop("speed"),
        "rules.shocks.detector.variables",
        "needs speed",
    ),
    (
        "unknown role",
        lambda c: _shocks(c)["detector"]["variables"].update(pressure="pls_l2.density"),
        "rules.shocks.detector.variables.pressure",
        "takes no series 'pressure'",
    ),
    (
        "variable the files do not hold",
        lambda c: _shocks(c)["detector"]["variables"].update(speed="pls_l2.velocity"),
        "rules.shocks.detector.variables.speed",
        "hold no variable 'velocity'",
    ),
    (
        "input the rule does not have",
        lambda c: _shocks(c)["detector"]["variables"].update(speed="sw_l2.speed"),
        "rules.shocks.detector.variables.speed",
        "no input 'sw_l2'",
    ),
    (
        "margin without the days around",
        lambda c: _shocks(c)["inputs"][0].update(window="same_day", required=True),
        "rules.shocks.inputs",
        "window: surrounding_days",
    ),
    (
        "margin over a day",
        lambda c: _shocks(c).update(margin="P2D"),
        "rules.shocks",
        "at most P1D",
    ),
    (
        "function and detector",
        lambda c: _shocks(c).update(function="demo_mission.sw.l2:process"),
        "rules.shocks",
        "one of a function, a notebook or a detector",
    ),
    (
        "event list not a cdf",
        lambda c: c["products"]["sw_l3_shocks"].update(
            format="png",
            options={},
            pattern=c["products"]["sw_l3_shocks"]["pattern"].replace(".cdf", ".png"),
        ),
        "rules.shocks.outputs[0].product",
        "is a cdf product",
    ),
    (
        "bad threshold parameters",
        lambda c: c["rules"]["dense_plasma"]["detector"]["parameters"].update(below=20.0),
        "rules.dense_plasma.detector.parameters",
        "below",
    ),
    (
        "max_interval on a plain dataset",
        lambda c: c["datasets"]["demo_pls_l2"].update(max_interval="PT1H"),
        "datasets.demo_pls_l2",
        "max_interval is for interval datasets",
    ),
]


@pytest.mark.parametrize(
    ("edit", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_detector_mistake_fails_at_load(
    tmp_path: Path, edit: Edit, field: str, words: str
) -> None:
    folder = _mission_with(tmp_path, edit)
    with pytest.raises(ConfigError) as caught:
        load_mission(folder)
    problems = caught.value.problems
    assert any((p.field or "").startswith(field) and words in p.message for p in problems), [
        str(p) for p in problems
    ]
    assert all(p.line is not None for p in problems), [str(p) for p in problems]
