"""The run form's values: from the view shown to the notebook's parameters, typed."""

from __future__ import annotations

from socstack.viz.analyse import _typed, is_template, prefill
from socstack.viz.links import Panel, View


def test_the_form_takes_the_first_dataset_and_its_parameters_and_the_window() -> None:
    view = View(
        "http://x/hapi",
        [
            Panel("demo_mag_l2_1s", "B_GSE"),
            Panel("demo_pls_l2", "density"),
            Panel("demo_mag_l2_1s", "B_mag"),
            Panel("demo_mag_l2_1s", "B_GSE", "log"),
        ],
        "2025-01-01T00:00:00Z",
        "2025-01-01T06:00:00Z",
    )
    assert prefill(view) == {
        "dataset": "demo_mag_l2_1s",
        "parameters": ["B_GSE", "B_mag"],
        "start": "2025-01-01T00:00:00Z",
        "stop": "2025-01-01T06:00:00Z",
    }
    assert prefill(View(start="a", stop="b")) == {"start": "a", "stop": "b"}


def test_field_text_becomes_the_parameters_type() -> None:
    assert _typed("B_GSE, B_mag", {"type": "list", "default": []}) == ["B_GSE", "B_mag"]
    assert _typed("B_mag", {"default": ["B_GSE"]}) == ["B_mag"]
    assert _typed(" 42 ", {"type": "int"}) == 42
    assert _typed("0.5", {"default": 1.0}) == 0.5
    assert _typed("yes", {"type": "bool"}) is True
    assert _typed("2025-01-01", {"type": "str", "default": ""}) == "2025-01-01"
    assert _typed("many", {"type": "int"}) == "many", "the API says what is wrong with it"


def test_the_template_is_any_missions_interval_notebook() -> None:
    assert is_template("demo/interval.ipynb")
    assert is_template("interval")
    assert not is_template("demo/hourly_means.ipynb")
