"""Fixed packet layouts read from an XTCE definition, decoded for all packets at once.

space_packet_parser decodes one packet at a time in Python, about 10,000 packets/s on
one core here: a day of the demo plasma instrument (21,600 packets) takes two seconds,
most of the latency from a file's arrival to its L2. Most science packets have a fixed
layout, though: fields of a fixed number of bits, the container chosen by comparisons on
header fields. For those, the layout is taken from the library's own definition objects
and applied to every packet in one numpy pass.

Anything this module does not model (nested or repeated entries, variable sizes,
enumerations, strings, context calibrators, other match criteria) makes it answer None,
and the caller decodes with the library. The library stays the reference in any case:
the reader decodes a sample of every file's packets with it and keeps the fast result
only where the two agree field for field.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import space_packet_parser as spp
from space_packet_parser.xtce import (
    calibrators,
    comparisons,
    containers,
    encodings,
    parameter_types,
    parameters,
)

__all__ = ["Field", "Layout", "decode_fixed", "layouts"]

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "__eq__": operator.eq,
    "__ne__": operator.ne,
    "__lt__": operator.lt,
    "__gt__": operator.gt,
    "__le__": operator.le,
    "__ge__": operator.ge,
}


class UnsupportedLayoutError(Exception):
    """The definition uses something this module does not model."""


@dataclass(frozen=True)
class Field:
    """One parameter at a fixed bit offset."""

    name: str
    offset: int
    size: int
    kind: str  # "uint", "int", "float" or "bytes"
    little_endian: bool = False
    polynomial: tuple[tuple[float, float], ...] | None = None

    def raw(self, packets: np.ndarray) -> np.ndarray:
        """The field's uncalibrated values from an (n, bytes) array of packets."""
        first, bit = divmod(self.offset, 8)
        if self.kind == "bytes":
            return packets[:, first : first + self.size // 8]
        if self.kind == "float":
            chunk = np.ascontiguousarray(packets[:, first : first + self.size // 8])
            order = "<" if self.little_endian else ">"
            return chunk.view(f"{order}f{self.size // 8}")[:, 0].astype(np.float64)
        width = (bit + self.size + 7) // 8
        chunk = packets[:, first : first + width].astype(np.uint64)
        if self.little_endian:
            chunk = chunk[:, ::-1]
        value = np.zeros(len(packets), dtype=np.uint64)
        for k in range(width):
            value = (value << np.uint64(8)) | chunk[:, k]
        value >>= np.uint64(8 * width - bit - self.size)
        value &= np.uint64((1 << self.size) - 1)
        signed = value.astype(np.int64)
        if self.kind == "int":
            signed = np.where(signed >= 1 << (self.size - 1), signed - (1 << self.size), signed)
        return signed

    def value(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated as the library does: the polynomial summed term by term."""
        if self.polynomial is None:
            return raw
        total = np.zeros(len(raw), dtype=np.float64)
        for coefficient, exponent in self.polynomial:
            total = total + coefficient * raw.astype(np.float64) ** exponent
        return total


@dataclass(frozen=True)
class Criterion:
    """A comparison on a field decoded before it."""

    field: str
    compare: Callable[[Any, Any], Any]
    required: str
    calibrated: bool


@dataclass(frozen=True)
class Layout:
    """Every field of one concrete container, its base containers' first."""

    container: str
    fields: tuple[Field, ...]
    criteria: tuple[Criterion, ...]

    @property
    def bits(self) -> int:
        """The packet length this layout describes."""
        last = self.fields[-1]
        return last.offset + last.size

    def matches(self, decoded: dict[str, tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
        """Which packets satisfy every restriction criterion on the way to this container."""
        mask = np.ones(n, dtype=bool)
        for criterion in self.criteria:
            raw, value = decoded[criterion.field]
            subject = value if criterion.calibrated else raw
            try:
                required: float | int = (
                    int(criterion.required)
                    if subject.dtype.kind in "iu"
                    else float(criterion.required)
                )
            except ValueError as exc:
                raise UnsupportedLayoutError(f"comparison value {criterion.required!r}") from exc
            mask &= np.asarray(criterion.compare(subject, required), dtype=bool)
        return mask


def _field(parameter: parameters.Parameter, offset: int) -> Field:
    kind_of = type(parameter.parameter_type)
    encoding = parameter.parameter_type.encoding
    if kind_of is parameter_types.BinaryParameterType:
        size = getattr(encoding, "fixed_size_in_bits", None)
        if not isinstance(encoding, encodings.BinaryDataEncoding) or not size:
            raise UnsupportedLayoutError(f"{parameter.name}: binary field without a fixed size")
        if size % 8 or offset % 8:
            raise UnsupportedLayoutError(f"{parameter.name}: binary field off byte boundaries")
        return Field(parameter.name, offset, size, "bytes")
    if kind_of not in (parameter_types.IntegerParameterType, parameter_types.FloatParameterType):
        raise UnsupportedLayoutError(f"{parameter.name}: {kind_of.__name__}")
    if not isinstance(encoding, encodings.IntegerDataEncoding | encodings.FloatDataEncoding):
        raise UnsupportedLayoutError(f"{parameter.name}: {type(encoding).__name__}")
    return _numeric_field(parameter.name, encoding, offset)


def _numeric_field(
    name: str, encoding: encodings.IntegerDataEncoding | encodings.FloatDataEncoding, offset: int
) -> Field:
    polynomial = _polynomial(name, encoding)
    size = encoding.size_in_bits
    little = encoding.byte_order == "leastSignificantByteFirst"
    if isinstance(encoding, encodings.FloatDataEncoding):
        if encoding.encoding not in ("IEEE754", "IEEE754_1985") or size not in (32, 64):
            raise UnsupportedLayoutError(f"{name}: float encoding {encoding.encoding}")
        if offset % 8:
            raise UnsupportedLayoutError(f"{name}: float not on a byte boundary")
        return Field(name, offset, size, "float", little, polynomial)
    if little and (size % 8 or offset % 8):
        raise UnsupportedLayoutError(f"{name}: little-endian field off byte boundaries")
    if offset % 8 + size > 64:
        raise UnsupportedLayoutError(f"{name}: integer wider than 64 bits with its offset")
    kind = "uint" if encoding.encoding == "unsigned" else "int"
    return Field(name, offset, size, kind, little, polynomial)


def _polynomial(
    name: str, encoding: encodings.NumericDataEncoding
) -> tuple[tuple[float, float], ...] | None:
    if encoding.context_calibrators:
        raise UnsupportedLayoutError(f"{name}: context calibrators")
    calibrator = encoding.default_calibrator
    if calibrator is None:
        return None
    if not isinstance(calibrator, calibrators.PolynomialCalibrator):
        raise UnsupportedLayoutError(f"{name}: {type(calibrator).__name__}")
    return tuple((c.coefficient, c.exponent) for c in calibrator.coefficients)


def _criterion(criterion: Any) -> Criterion:
    if type(criterion) is not comparisons.Comparison:
        raise UnsupportedLayoutError(f"restriction criterion {type(criterion).__name__}")
    compare = _OPERATORS[comparisons.Comparison._valid_operators[criterion.operator]]
    return Criterion(
        criterion.referenced_parameter,
        compare,
        str(criterion.required_value),
        bool(criterion.use_calibrated_value),
    )


def layouts(definition: spp.XtcePacketDefinition, root: str) -> list[Layout] | None:
    """Every concrete container reachable from ``root`` as a fixed layout, or None."""
    found: list[Layout] = []

    def walk(
        container: containers.SequenceContainer,
        fields: tuple[Field, ...],
        criteria: tuple[Criterion, ...],
    ) -> None:
        offset = fields[-1].offset + fields[-1].size if fields else 0
        own = list(fields)
        for entry in container.entry_list:
            if not isinstance(entry, parameters.Parameter):
                raise UnsupportedLayoutError(f"{container.name}: nested container entry")
            own.append(_field(entry, offset))
            offset += own[-1].size
        # A container's criteria are evaluated on its base containers' fields.
        more = tuple(_criterion(c) for c in container.restriction_criteria)
        if any(c.field not in {f.name for f in fields} for c in more):
            raise UnsupportedLayoutError(
                f"{container.name}: criterion on a field not decoded before it"
            )
        if container.inheritors:
            if not container.abstract:
                raise UnsupportedLayoutError(
                    f"{container.name}: concrete container with inheritors"
                )
            for name in container.inheritors:
                child = definition.containers[name]
                walk(child, tuple(own), criteria + more)
        elif not container.abstract and own:
            found.append(Layout(container.name, tuple(own), criteria + more))

    try:
        top = definition.containers[root]
        if top.restriction_criteria:
            raise UnsupportedLayoutError("criteria on the root container")
        walk(top, (), ())
    except (UnsupportedLayoutError, KeyError, AttributeError):
        return None
    return found or None


def decode_fixed(
    packets: np.ndarray, candidates: list[Layout]
) -> tuple[Layout, dict[str, np.ndarray]] | None:
    """Decode (n, bytes) packets of one length when they all resolve to one layout.

    Returns the layout and each field's values (calibrated where the library calibrates),
    or None when any packet could resolve to another container, or none.
    """
    n, length = packets.shape
    try:
        masks = [(c, _criteria_mask(c, packets, n)) for c in candidates]
    except UnsupportedLayoutError:
        return None
    everywhere = [c for c, mask in masks if mask.all()]
    if len(everywhere) != 1 or any(m.any() for c, m in masks if c is not everywhere[0]):
        return None
    chosen = everywhere[0]
    if chosen.bits != length * 8:
        return None  # the library would report the length mismatch: let it
    return chosen, {f.name: f.value(f.raw(packets)) for f in chosen.fields}


def _criteria_mask(layout: Layout, packets: np.ndarray, n: int) -> np.ndarray:
    needed = {c.field for c in layout.criteria}
    decoded = {}
    for field in layout.fields:
        if field.name in needed:
            if field.offset + field.size > packets.shape[1] * 8:
                raise UnsupportedLayoutError(f"{field.name} lies beyond the packet")
            raw = field.raw(packets)
            decoded[field.name] = (raw, field.value(raw))
    return layout.matches(decoded, n)
