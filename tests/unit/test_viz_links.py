"""The viz's shared links and time windows: what a URL holds and how a zoom is rounded."""

from __future__ import annotations

import pytest

from socstack.times import parse_time
from socstack.viz.links import LinkError, Panel, View, view_from_query
from socstack.viz.window import ViewError, rounded, rounding_step, window_of, zoomed

S = 10**9


def test_a_stack_with_its_options_reads_back_from_its_link() -> None:
    view = View(
        "https://example.org/hapi",
        [
            Panel("demo_mag_l2_1s", "B_GSE"),
            Panel("demo_pls_l2", "density", "log", 0.1, 100.0),
            Panel("odd/id;x", "a=b%c", "linear", None, 3.5),
        ],
        "2025-01-01T06:00Z",
        "2025-01-01T12:00Z",
    )
    query = view.query()
    # Plain names are written as they are: the link stays readable.
    assert "panel=demo_pls_l2/density;scale=log;range=0.1:100&" in query
    assert view_from_query(query) == view


def test_links_of_one_dataset_from_before_stacks_still_open() -> None:
    old = view_from_query("?server=s&dataset=d&parameters=a,b&start=2025-01-01&stop=2025-01-02")
    assert old.panels == [Panel("d", "a"), Panel("d", "b")]
    assert (old.server, old.start, old.stop) == ("s", "2025-01-01", "2025-01-02")
    alone = view_from_query("?dataset=d")
    assert (alone.panels, alone.dataset) == ([], "d"), "opened with its first parameters"


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("?panel=abc", "write it as dataset/parameter"),
        ("?panel=a/b;scale=cubic", "neither scale=auto|linear|log"),
        ("?panel=a/b;range=x:1", "range 'x:1' is not low:high"),
    ],
)
def test_a_malformed_panel_says_what_is_wrong(query: str, says: str) -> None:
    with pytest.raises(LinkError, match=says):
        view_from_query(query)


def test_a_panel_whose_axis_cannot_be_drawn_is_refused() -> None:
    base = View("s", [], "2025-01-01", "2025-01-02")
    for panel, says in (
        (Panel("d", "p", low=5, high=1), "low end must be below"),
        (Panel("d", "p", "log", low=0), "log y-axis must end above 0"),
    ):
        with pytest.raises(ViewError, match=says):
            window_of(View(base.server, [panel], base.start, base.stop))
    with pytest.raises(ViewError, match="Add at least one panel"):
        window_of(base)


def test_a_zoom_is_rounded_outwards_to_the_finest_cadence() -> None:
    # 1 s field and 4 s plasma: whole seconds; a minute summary alone: whole minutes.
    assert rounding_step([S, 4 * S]) == S
    assert rounding_step([60 * S, None]) == 60 * S
    assert rounding_step([S // 4]) == S // 10
    assert rounding_step([None]) == S, "no cadence given: seconds"
    t = parse_time("2025-01-01T06:00:00.3Z")
    u = parse_time("2025-01-01T08:30:00.7Z")
    assert rounded((t, u), S) == (
        parse_time("2025-01-01T06:00Z"),
        parse_time("2025-01-01T08:30:01Z"),
    )
    exact = (parse_time("2025-01-01T06:00Z"), parse_time("2025-01-01T07:00Z"))
    assert rounded(exact, S) == exact
    assert rounded((t, t + 1), 60 * S)[1] - rounded((t, t + 1), 60 * S)[0] == 60 * S


def test_relayout_events_that_are_zooms_and_those_that_are_not() -> None:
    home = (parse_time("2025-01-01"), parse_time("2025-01-02"))
    drag = {"xaxis3.range[0]": "2025-01-01 01:00:00.5", "xaxis3.range[1]": "2025-01-01 02:00"}
    assert zoomed(drag, home) == (
        parse_time("2025-01-01T01:00:00.5Z"),
        parse_time("2025-01-01T02:00Z"),
    )
    assert zoomed({"xaxis.range": ["2025-01-01 03:00", "2025-01-01 04:00"]}, None) == (
        parse_time("2025-01-01T03:00Z"),
        parse_time("2025-01-01T04:00Z"),
    )
    assert zoomed({"xaxis.autorange": True}, home) == home, "a double click goes home"
    assert zoomed({"autosize": True}, home) is None
    assert (
        zoomed({"xaxis.range[0]": "2025-01-01 05:00", "xaxis.range[1]": "2025-01-01 04:00"}, home)
        is None
    )
