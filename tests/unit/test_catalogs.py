"""Catalogs in and out: CSV, JSON and AMDA's VOTable keep an event list as written.

Round trips compare exact times and values; the VOTable is checked as the AMDA time
table it claims to be; malformed uploads must fail with a message naming the row or field.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

import numpy as np
import pytest

from socstack.mining.catalogs import (
    FORMATS,
    CatalogFormatError,
    guess_format,
    read_catalog,
    write_catalog,
)
from socstack.mining.events import EventList, EventListError

NS = "datetime64[ns]"
VOTABLE = "{http://www.ivoa.net/xml/VOTable/v1.3}"
HEADER = "start,stop,x\r\n"


def _events() -> EventList:
    """Two events with nanosecond times and a float, an int and a text attribute."""
    start = np.array(["2020-01-01T00:00:00.123456789", "2020-01-02T12:00:00.5"], dtype=NS)
    stop = start + np.array([600_000_000_000, 1], dtype="timedelta64[ns]")
    return EventList(
        start,
        stop,
        {
            "distance": np.array([12.5, np.nan]),
            "count": np.array([3, -7]),
            "label": np.array(["inbound, fast", "007"]),  # text that looks like a number
        },
        name="Bow shocks",
        description="two\nlines",
        units={"distance": "km", "count": "1"},
        descriptions={"distance": "from Earth", "label": "which crossing"},
    )


def _votable(events: EventList) -> ET.Element:
    """The tree of a VOTable socstack wrote (trusted input: the module's own output)."""
    return ET.fromstring(write_catalog(events, "votable"))  # noqa: S314


# What each format writes of the events' times: nanoseconds, but microseconds in the
# VOTable (speasy reads it with %f, six digits at most), truncated.
WRITTEN = {
    "csv": (
        ["2020-01-01T00:00:00.123456789", "2020-01-02T12:00:00.500000000"],
        ["2020-01-01T00:10:00.123456789", "2020-01-02T12:00:00.500000001"],
    ),
    "json": (
        ["2020-01-01T00:00:00.123456789", "2020-01-02T12:00:00.500000000"],
        ["2020-01-01T00:10:00.123456789", "2020-01-02T12:00:00.500000001"],
    ),
    "votable": (
        ["2020-01-01T00:00:00.123456", "2020-01-02T12:00:00.500000"],
        ["2020-01-01T00:10:00.123456", "2020-01-02T12:00:00.500000"],
    ),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_times_to_the_digits_written(fmt: str) -> None:
    data = write_catalog(_events(), fmt)
    text = data.decode("utf-8")
    starts, stops = WRITTEN[fmt]
    for written in starts + stops:
        assert written in text
    back = read_catalog(data, fmt)
    assert back.start.tolist() == np.array(starts, dtype=NS).tolist()
    assert back.stop.tolist() == np.array(stops, dtype=NS).tolist()
    assert back.start.dtype == back.stop.dtype == np.dtype(NS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_attributes_types_units_and_descriptions(fmt: str) -> None:
    events = _events()
    back = read_catalog(write_catalog(events, fmt), fmt)
    assert list(back.attributes) == ["distance", "count", "label"]
    distance, count, label = (back.attributes[k] for k in ("distance", "count", "label"))
    assert distance.dtype == np.float64
    assert distance[0] == 12.5
    assert np.isnan(distance[1])
    assert count.dtype == np.int64
    assert count.tolist() == [3, -7]
    assert label.dtype.kind == "U"
    assert label.tolist() == ["inbound, fast", "007"]
    assert back.units == {"distance": "km", "count": "1"}
    assert back.descriptions == {"distance": "from Earth", "label": "which crossing"}
    assert back.name == "Bow shocks"
    assert back.description == "two\nlines"


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_exact_values_and_awkward_text(fmt: str) -> None:
    t = np.array(["1969-12-31T23:59:59.999", "2020-01-01", "2020-01-01"], dtype=NS)
    floats = np.array([0.1, 1 / 3, -np.inf])
    ints = np.array([2**63 - 1, -(2**63), 0])
    text = np.array(['#x,\r\n"y" <&>', "é", ""])
    flags = np.array([True, False, True])
    events = EventList(t, t, {"f": floats, "i": ints, "s": text, "b": flags})
    back = read_catalog(write_catalog(events, fmt), fmt)
    assert back.start.tolist() == t.tolist()
    assert back.attributes["f"].tolist() == floats.tolist()
    assert back.attributes["i"].tolist() == ints.tolist()
    assert back.attributes["s"].tolist() == text.tolist()
    assert back.attributes["b"].dtype == np.bool_
    assert back.attributes["b"].tolist() == [True, False, True]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_list_keeps_its_column_types(fmt: str) -> None:
    events = EventList.empty({"a": np.float64, "b": np.int64, "c": str})
    back = read_catalog(write_catalog(events, fmt), fmt)
    assert len(back) == 0
    assert {k: v.dtype.kind for k, v in back.attributes.items()} == {"a": "f", "b": "i", "c": "U"}


def test_votable_is_an_amda_time_table() -> None:
    root = _votable(_events())
    assert root.tag == f"{VOTABLE}VOTABLE"
    assert root.get("version") == "1.3"
    description = root.findtext(f"{VOTABLE}DESCRIPTION") or ""
    assert description.splitlines()[0] == "Name: Bow shocks;"
    resources = root.findall(f"{VOTABLE}RESOURCE")
    assert len(resources) == 1
    table = resources[0].find(f"{VOTABLE}TABLE")
    assert table is not None
    assert table.get("nrows") == "2"
    fields = table.findall(f"{VOTABLE}FIELD")
    assert [f.get("name") for f in fields] == [
        "TimeIntervalStart",
        "TimeIntervalStop",
        "distance",
        "count",
        "label",
    ]
    for field, ucd in zip(fields[:2], ("time.start", "time.end"), strict=True):
        assert field.get("ucd") == ucd
        assert field.get("datatype") == "char"
        assert field.get("arraysize") == "*"
        assert field.get("xtype") == "dateTime"
    assert [f.get("datatype") for f in fields[2:]] == ["double", "long", "char"]
    assert fields[2].get("unit") == "km"
    assert fields[2].findtext(f"{VOTABLE}DESCRIPTION") == "from Earth"
    rows = table.findall(f"{VOTABLE}DATA/{VOTABLE}TABLEDATA/{VOTABLE}TR")
    cells = [[td.text or "" for td in row.findall(f"{VOTABLE}TD")] for row in rows]
    assert cells == [
        ["2020-01-01T00:00:00.123456", "2020-01-01T00:10:00.123456", "12.5", "3", "inbound, fast"],
        ["2020-01-02T12:00:00.500000", "2020-01-02T12:00:00.500000", "NaN", "-7", "007"],
    ]


def test_votable_times_have_milliseconds_without_z() -> None:
    t = np.array(["2020-01-01T00:00:00"], dtype=NS)
    root = _votable(EventList(t, t + np.timedelta64(1, "s")))
    tds = [td.text for td in root.iter(f"{VOTABLE}TD")]
    assert tds == ["2020-01-01T00:00:00.000", "2020-01-01T00:00:01.000"]


@pytest.mark.parametrize(
    ("data", "filename", "fmt"),
    [
        (b'<?xml version="1.0"?><VOTABLE/>', "", "votable"),
        (b"\xef\xbb\xbf\r\n  <VOTABLE/>", "", "votable"),
        (b'{"events": []}', "", "json"),
        (b"  [ ]", "", "json"),
        (b"start,stop\r\n", "", "csv"),
        (b"# name: x\r\n", "", "csv"),
        (b"{", "upload.CSV", "csv"),  # the name wins over the content
        (b"start,stop", "table.xml", "votable"),
        (b"start,stop", "C:\\Users\\me\\table.vot", "votable"),
        (b"<x/>", "catalog.json", "json"),
        (b'{"events": []}', "notes.txt", "json"),  # an unknown suffix: the content decides
    ],
)
def test_guess_format_from_content_and_filename(data: bytes, filename: str, fmt: str) -> None:
    assert guess_format(data, filename) == fmt


def test_read_catalog_guesses_the_format_and_names_the_list_by_the_file() -> None:
    events = _events()
    events.name = ""
    back = read_catalog(write_catalog(events, "votable"), filename="shocks_2020.xml")
    assert back.name == "shocks_2020"
    assert back.attributes["count"].tolist() == [3, -7]


def _refused(data: bytes, filename: str, *parts: str) -> None:
    with pytest.raises(CatalogFormatError) as caught:
        read_catalog(data, filename=filename)
    assert isinstance(caught.value, EventListError)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{filename}: ")
    for part in parts:
        assert part in message


def test_csv_with_a_stop_before_its_start_names_the_line() -> None:
    data = (
        HEADER
        + "2020-01-01T00:00:00Z,2020-01-01T01:00:00Z,1\r\n"
        + "2020-01-02T00:00:00Z,2020-01-01T00:00:00Z,2\r\n"
    ).encode()
    _refused(data, "up.csv", "line 3", "stops (2020-01-01T00:00:00Z)", "(2020-01-02T00:00:00Z)")


def test_csv_with_a_non_time_start_names_the_line_and_the_value() -> None:
    data = HEADER + "2020-01-01T00:00:00Z,2020-01-01T01:00:00Z,1\r\nyesterday,2020-01-01,2\r\n"
    _refused(data.encode(), "up.csv", "line 3", "start time 'yesterday' is not a time")


def test_csv_with_a_non_time_in_a_time_attribute_names_the_field() -> None:
    data = (
        '# parameter: {"name": "x", "type": "dateTime"}\r\n'
        + HEADER
        + "2020-01-01T00:00:00Z,2020-01-01T01:00:00Z,noon\r\n"
    )
    _refused(data.encode(), "up.csv", "line 3, field 'x'", "'noon' is not a time")


def test_csv_with_a_fraction_in_an_integer_column_names_the_field() -> None:
    data = (
        '# parameter: {"name": "x", "type": "integer"}\r\n'
        + HEADER
        + "2020-01-01T00:00:00Z,2020-01-01T01:00:00Z,1.5\r\n"
    )
    _refused(data.encode(), "up.csv", "line 3, field 'x'", "'1.5' is not an integer")


def test_csv_without_a_stop_column_names_the_header() -> None:
    _refused(b"start,finish\r\n", "up.csv", "header at line 1", "no stop column")


@pytest.mark.parametrize(
    ("data", "parts"),
    [
        (b'{"name": "not a catalog"}', ('needs an object with an "events" list',)),
        (b'"hello"', ('needs an object with an "events" list',)),
        (b"[1, 2]", ("event 1: not an object",)),
        (b'{"events": [', ("not JSON", "line 1")),
        (b'{"events": [{"start": "2020-01-01", "stop": 5}]}', ("event 1: stop time 5",)),
        (
            b'{"parameters": [{"name": "x", "type": "double"}], "events":'
            b' [{"start": "2020-01-01", "stop": "2020-01-01", "y": 1}]}',
            ("event 1: 'y' is not a parameter",),
        ),
        (
            b'{"parameters": [{"name": "x", "type": "vector"}], "events": []}',
            ("parameter 'x': unknown type 'vector'",),
        ),
    ],
)
def test_json_that_is_not_a_catalog_is_refused(data: bytes, parts: tuple[str, ...]) -> None:
    _refused(data, "up.json", *parts)


@pytest.mark.parametrize(
    ("data", "part"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE VOTABLE [<!ENTITY a "aaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;">]><VOTABLE>&b;</VOTABLE>',
            "XML with a DOCTYPE is refused",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE VOTABLE SYSTEM "http://example.org/v.dtd"><VOTABLE/>',
            "XML with a DOCTYPE is refused",
        ),
        (b"<VOTABLE><RESOURCE></VOTABLE>", "not well-formed XML: mismatched tag at line 1"),
        (b"<html/>", "its root is <html>"),
        (b"<VOTABLE><RESOURCE/></VOTABLE>", "holds no TABLE"),
    ],
)
def test_xml_that_is_unsafe_or_not_a_votable_is_refused(data: bytes, part: str) -> None:
    _refused(data, "up.xml", part)


def test_votable_row_with_a_bad_cell_names_the_row_and_field() -> None:
    text = write_catalog(_events(), "votable").decode().replace("<TD>-7</TD>", "<TD>many</TD>")
    _refused(text.encode(), "up.xml", "row 2, field 'count'", "'many' is not a number")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(CatalogFormatError, match="unknown catalog format 'xlsx'"):
        write_catalog(_events(), "xlsx")
    with pytest.raises(CatalogFormatError, match="unknown catalog format 'yaml'"):
        read_catalog(b"", "yaml")
