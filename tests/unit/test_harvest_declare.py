"""``harvest add``'s YAML editing: blocks appended in each section's indent, comments kept."""

from __future__ import annotations

import pytest

from socstack._exceptions import ConfigError
from socstack.harvest.declare import default_peer, default_product, insert_into_sections

TEXT = """# top comment
name: m
products:
    a:  # four-space indent, kept
        level: l2
    # a trailing comment in the section

rules: {}
"""


def test_blocks_go_at_the_end_of_their_sections_in_their_indent() -> None:
    out = insert_into_sections(
        TEXT,
        {"products": lambda i: f"{i}b: 1\n", "datasets": lambda i: f"{i}d: 2\n"},
    )
    assert out.startswith(TEXT.split("    # a trailing", maxsplit=1)[0] + "    b: 1\n")
    assert "    # a trailing comment in the section\n" in out
    assert out.endswith("rules: {}\n\ndatasets:\n  d: 2\n")


def test_an_empty_flow_section_becomes_a_block_and_a_full_one_is_refused() -> None:
    out = insert_into_sections("name: m\ndatasets: {}\n", {"datasets": lambda i: f"{i}d: 2\n"})
    assert out == "name: m\ndatasets:\n  d: 2\n"
    with pytest.raises(ConfigError, match="not a block mapping"):
        insert_into_sections("datasets: {x: 1}\n", {"datasets": lambda i: f"{i}d: 2\n"})


def test_default_names() -> None:
    assert default_product("demo-mag.L2 1s") == "demo_mag_l2_1s"
    assert default_product("1s") == "p_1s"
    assert default_peer("https://cdaweb.gsfc.nasa.gov/hapi") == "cdaweb-gsfc-nasa-gov"
    assert default_peer("http://127.0.0.1:8080/hapi") == "peer-127-0-0-1"
