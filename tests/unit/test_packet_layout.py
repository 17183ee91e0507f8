"""The numpy decoder of fixed packet layouts agrees with space_packet_parser, packet for packet."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import pytest
import space_packet_parser as spp

from socstack.formats.ccsds import CcsdsReader, scan_packets
from socstack.formats.packet_layout import Field, Layout, decode_fixed, layouts
from socstack.mission import MissionRegistry

NS = 'xmlns:xtce="http://www.omg.org/space/xtce"'

HEADER = """
  <xtce:IntegerParameterType name="U1"><xtce:IntegerDataEncoding sizeInBits="1" encoding="unsigned"/></xtce:IntegerParameterType>
  <xtce:IntegerParameterType name="U2"><xtce:IntegerDataEncoding sizeInBits="2" encoding="unsigned"/></xtce:IntegerParameterType>
  <xtce:IntegerParameterType name="U3"><xtce:IntegerDataEncoding sizeInBits="3" encoding="unsigned"/></xtce:IntegerParameterType>
  <xtce:IntegerParameterType name="U4"><xtce:IntegerDataEncoding sizeInBits="4" encoding="unsigned"/></xtce:IntegerParameterType>
  <xtce:IntegerParameterType name="U11"><xtce:IntegerDataEncoding sizeInBits="11" encoding="unsigned"/></xtce:IntegerParameterType>
  <xtce:IntegerParameterType name="U14"><xtce:IntegerDataEncoding sizeInBits="14" encoding="unsigned"/></xtce:IntegerParameterType>
  <xtce:IntegerParameterType name="U16"><xtce:IntegerDataEncoding sizeInBits="16" encoding="unsigned"/></xtce:IntegerParameterType>
"""

#: Unaligned, signed, little-endian, float, calibrated and binary fields, in two packet
#: kinds of the same length told apart by APID.
TYPES = """
  <xtce:IntegerParameterType name="U32"><xtce:IntegerDataEncoding sizeInBits="32" encoding="unsigned"/></xtce:IntegerParameterType>
  <xtce:IntegerParameterType name="S5" signed="true"><xtce:IntegerDataEncoding sizeInBits="5" encoding="twosComplement"/></xtce:IntegerParameterType>
  <xtce:IntegerParameterType name="S12" signed="true"><xtce:IntegerDataEncoding sizeInBits="12" encoding="signed"/></xtce:IntegerParameterType>
  <xtce:IntegerParameterType name="LE16"><xtce:IntegerDataEncoding sizeInBits="16" encoding="unsigned" byteOrder="leastSignificantByteFirst"/></xtce:IntegerParameterType>
  <xtce:FloatParameterType name="F32"><xtce:FloatDataEncoding sizeInBits="32"/></xtce:FloatParameterType>
  <xtce:FloatParameterType name="F64"><xtce:FloatDataEncoding sizeInBits="64"/></xtce:FloatParameterType>
  <xtce:FloatParameterType name="CAL">
    <xtce:IntegerDataEncoding sizeInBits="12" encoding="twosComplement">
      <xtce:DefaultCalibrator><xtce:PolynomialCalibrator>
        <xtce:Term coefficient="1.5" exponent="0"/><xtce:Term coefficient="0.25" exponent="1"/><xtce:Term coefficient="0.001" exponent="2"/>
      </xtce:PolynomialCalibrator></xtce:DefaultCalibrator>
    </xtce:IntegerDataEncoding>
  </xtce:FloatParameterType>
  <xtce:BinaryParameterType name="B4"><xtce:BinaryDataEncoding><xtce:SizeInBits><xtce:FixedValue>32</xtce:FixedValue></xtce:SizeInBits></xtce:BinaryDataEncoding></xtce:BinaryParameterType>
"""

PARAMETERS = {
    "VERSION": "U3",
    "TYPE": "U1",
    "SEC_HDR_FLG": "U1",
    "PKT_APID": "U11",
    "SEQ_FLGS": "U2",
    "SRC_SEQ_CTR": "U14",
    "PKT_LEN": "U16",
    "SECONDS": "U32",
    "SMALL": "S5",
    "TILT": "S12",
    "GAP": "U3",
    "GAP_B": "U3",
    "NIB": "U4",
    "LITTLE": "LE16",
    "SINGLE": "F32",
    "DOUBLE": "F64",
    "TEMP": "CAL",
    "TAIL": "U1",
    "RAW": "B4",
    "OTHER": "S12",
    "OTHER2": "U16",
}
HEAD = ["VERSION", "TYPE", "SEC_HDR_FLG", "PKT_APID", "SEQ_FLGS", "SRC_SEQ_CTR", "PKT_LEN"]
# Bits after the 48-bit header: 32 5 12 3 4 | 16 (LE) | 32 | 64 | 12 3 1 | 32: 27 bytes
BODY_A = ["SECONDS", "SMALL", "TILT", "GAP", "NIB", "LITTLE", "SINGLE", "DOUBLE", "TEMP", "GAP_B", "TAIL", "RAW"]  # fmt: skip
# 32 12 16 (unaligned, over three bytes) 4 | 32: 12 bytes
BODY_B = ["SECONDS", "OTHER", "OTHER2", "NIB", "RAW"]
SINGLE_AT, DOUBLE_AT = 9, 13  # body bytes of the floats in A


def _refs(names: list[str]) -> str:
    return "".join(f'<xtce:ParameterRefEntry parameterRef="{n}"/>' for n in names)


def xtce(body_a: list[str], body_b: list[str], extra_types: str = "") -> str:
    parameters = "".join(
        f'<xtce:Parameter name="{n}" parameterTypeRef="{t}"/>' for n, t in PARAMETERS.items()
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xtce:SpaceSystem {NS} name="T"><xtce:TelemetryMetaData>
<xtce:ParameterTypeSet>{HEADER}{TYPES}{extra_types}</xtce:ParameterTypeSet>
<xtce:ParameterSet>{parameters}</xtce:ParameterSet>
<xtce:ContainerSet>
  <xtce:SequenceContainer name="CCSDSPacket" abstract="true"><xtce:EntryList>{_refs(HEAD)}</xtce:EntryList></xtce:SequenceContainer>
  <xtce:SequenceContainer name="A">
    <xtce:BaseContainer containerRef="CCSDSPacket"><xtce:RestrictionCriteria>
      <xtce:Comparison parameterRef="PKT_APID" value="100" useCalibratedValue="false"/>
    </xtce:RestrictionCriteria></xtce:BaseContainer>
    <xtce:EntryList>{_refs(body_a)}</xtce:EntryList>
  </xtce:SequenceContainer>
  <xtce:SequenceContainer name="B">
    <xtce:BaseContainer containerRef="CCSDSPacket"><xtce:RestrictionCriteria>
      <xtce:Comparison parameterRef="PKT_APID" value="200" useCalibratedValue="false"/>
    </xtce:RestrictionCriteria></xtce:BaseContainer>
    <xtce:EntryList>{_refs(body_b)}</xtce:EntryList>
  </xtce:SequenceContainer>
</xtce:ContainerSet></xtce:TelemetryMetaData></xtce:SpaceSystem>
"""


def _packets(rng: np.random.Generator, apid: int, body_bytes: int, count: int) -> list[bytes]:
    """Packets with random bodies; A's floats are real numbers (NaN never equals itself)."""
    out = []
    for seq in range(count):
        body = bytearray(rng.integers(0, 256, body_bytes, dtype=np.uint8).tobytes())
        if apid == 100:
            body[SINGLE_AT : SINGLE_AT + 4] = struct.pack(">f", rng.normal() * 1e3)
            body[DOUBLE_AT : DOUBLE_AT + 8] = struct.pack(">d", rng.normal() * 1e6)
        header = struct.pack(">HHH", (1 << 11) | apid, (3 << 14) | seq, body_bytes - 1)
        out.append(header + bytes(body))
    return out


def _definition(folder: Path, text: str) -> spp.XtcePacketDefinition:
    path = folder / "t.xml"
    path.write_text(text)
    return spp.load_xtce(path)


def _library(definition: spp.XtcePacketDefinition, packets: list[bytes]) -> dict[str, list]:
    columns: dict[str, list] = {}
    for raw in packets:
        for key, value in definition.parse_bytes(raw).items():
            columns.setdefault(key, []).append(
                bytes(value) if isinstance(value, bytes | bytearray) else value
            )
    return columns


def _matrix(packets: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(packets), dtype=np.uint8).reshape(len(packets), -1)


def test_every_field_kind_matches_the_library(tmp_path: Path) -> None:
    definition = _definition(tmp_path, xtce(BODY_A, BODY_B))
    found = layouts(definition, "CCSDSPacket")
    assert found is not None and [f.container for f in found] == ["A", "B"]
    assert [layout.bits for layout in found] == [48 + 27 * 8, 48 + 12 * 8]
    rng = np.random.default_rng(7)
    for layout, apid in zip(found, (100, 200), strict=True):
        packets = _packets(rng, apid, layout.bits // 8 - 6, 300)
        decoded = decode_fixed(_matrix(packets), found)
        assert decoded is not None
        chosen, columns = decoded
        assert chosen is layout
        reference = _library(definition, packets)
        assert list(columns) == list(reference), "same fields, in the library's order"
        for key, values in reference.items():
            expected = _matrix(values) if isinstance(values[0], bytes) else np.asarray(values)
            assert np.array_equal(columns[key], expected), key
            assert columns[key].dtype.kind == expected.dtype.kind, key
        signed = "TILT" if apid == 100 else "OTHER"
        assert (np.asarray(columns[signed]) < 0).any(), "negative values were exercised"


def test_mixed_or_unknown_packets_are_left_to_the_library(tmp_path: Path) -> None:
    found = layouts(_definition(tmp_path, xtce(BODY_A, BODY_B)), "CCSDSPacket")
    assert found is not None
    rng = np.random.default_rng(3)
    body = found[0].bits // 8 - 6
    good = _packets(rng, 100, body, 5)
    assert decode_fixed(_matrix(good), found) is not None
    unknown = good + _packets(rng, 300, body, 1)
    assert decode_fixed(_matrix(unknown), found) is None, "an APID no container describes"
    assert decode_fixed(_matrix(good)[:, :-1], found) is None, "shorter than their layout"


def test_definitions_outside_the_model_get_no_layout(tmp_path: Path) -> None:
    enumerated = """
  <xtce:EnumeratedParameterType name="MODE_T"><xtce:IntegerDataEncoding sizeInBits="8" encoding="unsigned"/>
    <xtce:EnumerationList><xtce:Enumeration value="0" label="SAFE"/></xtce:EnumerationList>
  </xtce:EnumeratedParameterType>"""
    text = xtce(BODY_A, BODY_B, enumerated).replace(
        'name="OTHER2" parameterTypeRef="U16"', 'name="OTHER2" parameterTypeRef="MODE_T"'
    )
    assert layouts(_definition(tmp_path, text), "CCSDSPacket") is None


@pytest.mark.parametrize("product_id", ["mag_l0", "pls_l0"])
def test_the_demo_telemetry_decodes_the_same_both_ways(
    demo_files: Path, demo_missions: MissionRegistry, product_id: str
) -> None:
    product = demo_missions.mission("demo").products[product_id]
    path = next(demo_files.glob(f"demo_{product_id.replace('_l0', '')}_l0_*"))
    reader = CcsdsReader()
    options = product.format_options
    fast = reader.decode(path, product)[options.apids[0]]
    data = np.fromfile(path, dtype=np.uint8)
    index = scan_packets(data)
    everything = np.arange(len(index))
    assert reader._decode_fixed(options, data, index, everything, layouts(options.definition, options.root_container)) is not None  # fmt: skip
    reference = reader._decode_each(options, data, index, everything)
    assert set(fast.data_vars) == set(reference)
    for key, values in reference.items():
        assert np.array_equal(fast[key].values, values), key


def test_a_layout_that_disagrees_with_the_library_is_not_used(
    demo_files: Path, demo_missions: MissionRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    product = demo_missions.mission("demo").products["mag_l0"]
    options = product.format_options
    path = next(demo_files.glob("demo_mag_l0_*"))
    data = np.fromfile(path, dtype=np.uint8)
    index = scan_packets(data)
    good = layouts(options.definition, options.root_container)
    assert good is not None and len(good) == 1
    # The same layout with a calibration the definition does not have: decodable, wrong.
    wrong_fields = tuple(
        Field(f.name, f.offset, f.size, f.kind, polynomial=((2.0, 1),))
        if f.name == "SRC_SEQ_CTR"
        else f
        for f in good[0].fields
    )
    wrong = [Layout(good[0].container, wrong_fields, good[0].criteria)]
    everything = np.arange(len(index))
    reader = CcsdsReader()
    with caplog.at_level(logging.WARNING):
        assert reader._decode_fixed(options, data, index, everything, wrong) is None
    assert "SRC_SEQ_CTR decoded with numpy differs from space_packet_parser" in caplog.text
