"""Declaring a peer's dataset as a harvested product: the YAML that ``harvest add`` writes.

The mission's YAML is the operator's file, with their comments and layout, so it is
never re-dumped: the new product, its HAPI dataset (and, when needed, its instrument)
are text blocks appended at the end of their sections, in the sections' own indent.
What is written is then loaded by the mission loader like any edit by hand, and the
file is put back as it was when the loader refuses it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from socstack._exceptions import ConfigError
from socstack.mission.loader import MISSION_FILE, load_mission
from socstack.mission.model import Mission

__all__ = [
    "Declaration",
    "default_peer",
    "default_product",
    "insert_into_sections",
    "stanzas",
    "write",
]

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}
_TOP_KEY = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*):(?P<rest>.*)$")


def _q(value: str) -> str:
    """A YAML scalar: plain where plain reads back as the same string, else JSON-quoted."""
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value)


def _token(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", text.lower())).strip("_")


def default_product(dataset: str) -> str:
    """A product id from the peer's dataset id (``demo_mag_l2_1s`` stays so)."""
    name = _token(dataset)
    return name if name[:1].isalpha() else f"p_{name}"


def default_peer(url: str) -> str:
    """A peer name from the URL's host (``hapi.example.org`` -> ``hapi_example_org``)."""
    name = _token(urlsplit(url).hostname or "peer").replace("_", "-")
    name = name if name[:1].isalpha() else f"peer-{name}"
    return name[:64]


@dataclass
class Declaration:
    """What ``harvest add`` declares: one product from one peer dataset, and its dataset."""

    product: str
    instrument: str
    level: str
    peer: str
    url: str
    dataset: str
    info: dict[str, Any]
    parameters: list[str]
    all_parameters: bool
    start: str | None = None
    rate: float | None = None
    recheck: str | None = None
    hapi_dataset: str = ""
    new_instrument: bool = False
    _described: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._described = {str(p.get("name")): p for p in (self.info.get("parameters") or [])[1:]}

    def _shape(self, name: str) -> list[int]:
        size = self._described[name].get("size") or []
        return [int(n) for n in size]

    def product_text(self, indent: str) -> str:
        """The product's stanza (its ``harvest:`` block names the peer and its URL)."""
        i, ii, iii = indent, indent * 2, indent * 3
        variables = ", ".join(
            f"{_q(n)}: [{', '.join(str(k) for k in self._shape(n))}]" for n in self.parameters
        )
        title = str(self.info.get("description") or f"{self.dataset} of {self.peer}")
        lines = [
            f"{i}{self.product}:",
            f"{ii}instrument: {self.instrument}",
            f"{ii}level: {self.level}",
            f"{ii}descriptor: {self.product.replace('_', '-')}",
            f"{ii}title: {json.dumps(title.splitlines()[0][:120])}",
            f'{ii}pattern: "{{mission}}_{{instrument}}_{{level}}_{{descriptor}}'
            f'_{{date:%Y%m%d}}_v{{version}}.cdf"',
            f"{ii}format: cdf",
            f"{ii}options: {{variables: {{{variables}}}}}",
            f"{ii}harvest:",
            f"{iii}peer: {self.peer}",
            f"{iii}url: {json.dumps(self.url)}",
            f"{iii}dataset: {_q(self.dataset)}",
        ]
        if not self.all_parameters:
            lines.append(f"{iii}parameters: [{', '.join(_q(n) for n in self.parameters)}]")
        if self.start:
            lines.append(f"{iii}start: {self.start}")
        if self.recheck:
            lines.append(f"{iii}recheck: {self.recheck}")
        if self.rate is not None:
            lines.append(f"{iii}rate: {self.rate:g}")
        return "\n".join(lines) + "\n"

    def dataset_text(self, indent: str) -> str:
        """The HAPI dataset serving the product, one parameter per harvested variable."""
        i, ii, iii = indent, indent * 2, indent * 3
        lines = [f"{i}{self.hapi_dataset}:", f"{ii}product: {self.product}"]
        cadence = self.info.get("cadence")
        if isinstance(cadence, str) and cadence:
            lines.append(f"{ii}cadence: {cadence}")
        lines.append(f"{ii}parameters:")
        for name in self.parameters:
            described = self._described[name]
            entry = [f"name: {_q(name)}", f"variable: {_q(name)}"]
            kind = str(described.get("type") or "double")
            if kind != "double":
                entry.append(f"type: {kind}")
                if described.get("length"):
                    entry.append(f"length: {int(described['length'])}")
            if self._shape(name):
                entry.append(f"size: [{', '.join(str(k) for k in self._shape(name))}]")
            lines.append(f"{iii}- {{{', '.join(entry)}}}")
        return "\n".join(lines) + "\n"

    def instrument_text(self, indent: str) -> str:
        """A new instrument's entry (the peer's instrument, as far as this mission knows)."""
        return f"{indent}{self.instrument}: {{title: {json.dumps(f'From {self.peer}')}}}\n"


def _section(lines: list[str], key: str) -> tuple[int, int] | None:
    """The ``key:`` line's index and the index after its block's last content line."""
    head = next((k for k, line in enumerate(lines) if re.match(rf"^{key}:", line)), None)
    if head is None:
        return None
    end = head + 1
    last = head + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.startswith((" ", "\t", "#")):
            break
        if line.strip() and not line.lstrip().startswith("#"):
            last = end + 1
        end += 1
    return head, last


def _indent(lines: list[str], head: int, stop: int) -> str:
    for line in lines[head + 1 : stop]:
        if line.strip() and not line.lstrip().startswith("#"):
            return line[: len(line) - len(line.lstrip())]
    return "  "


def insert_into_sections(text: str, blocks: dict[str, Any]) -> str:
    """``text`` with each block appended to its top-level section (added if missing).

    ``blocks`` maps a section to a function of the section's indent giving the text.
    A section written in flow style (``datasets: {}``) that is empty becomes a block;
    one that is not is refused, as the text cannot be appended to it.
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for key, block in blocks.items():
        found = _section(lines, key)
        if found is None:
            lines += ["\n", f"{key}:\n", block("  ")]
            continue
        head, stop = found
        rest = _TOP_KEY.match(lines[head].rstrip("\n"))
        value = (rest.group("rest") if rest else "").split("#")[0].strip()
        if value in ("{}", "~", "null"):
            lines[head] = f"{key}:\n"
        elif value:
            raise ConfigError(f"{key}: is not a block mapping; add the entry by hand")
        lines.insert(stop, block(_indent(lines, head, stop)))
    return "".join(lines)


def write(folder: Path, declaration: Declaration) -> tuple[Mission, str]:
    """Append the declaration to ``folder``'s YAML and load it; restore the file if refused.

    Returns the loaded mission and the text appended (for the operator to read).
    """
    path = folder / MISSION_FILE
    original = path.read_text()
    blocks: dict[str, Any] = {}
    if declaration.new_instrument:
        blocks["instruments"] = declaration.instrument_text
    blocks["products"] = declaration.product_text
    blocks["datasets"] = declaration.dataset_text
    path.write_text(insert_into_sections(original, blocks))
    try:
        mission = load_mission(folder)
    except ConfigError:
        path.write_text(original)
        raise
    return mission, stanzas(declaration)


def stanzas(declaration: Declaration) -> str:
    """The stanzas as they are written, under their section names (``--dry-run``)."""
    parts = []
    if declaration.new_instrument:
        parts.append("instruments:\n" + declaration.instrument_text("  "))
    parts.append("products:\n" + declaration.product_text("  "))
    parts.append("datasets:\n" + declaration.dataset_text("  "))
    return "\n".join(parts)
