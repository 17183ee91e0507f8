"""A HAPI binary body read into columns whatever sizes its chunks arrive in.

The client copies each chunk into blocks of whole records and decodes a block's times
when it fills; a record split between chunks, or between blocks, must read as if the
body had come in one piece.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from socstack.client.hapi import _assemble, _Records, _Spec
from socstack.times import format_times, parse_time

SPECS = [
    _Spec("Time", "S24", (), is_time=True),
    _Spec("B_GSE", "<f8", (3,)),
    _Spec("count", "<i4", ()),
]
DTYPE = np.dtype([(s.name, s.dtype, s.shape) for s in SPECS])


def _body(rows: int) -> tuple[bytes, np.ndarray]:
    records = np.zeros(rows, dtype=DTYPE)
    ns = parse_time("2025-03-01T00:00:00.250Z") + np.arange(rows, dtype=np.int64) * 10**9
    records["Time"] = format_times(ns, 3)
    records["B_GSE"] = np.arange(rows * 3, dtype=np.float64).reshape(rows, 3)
    records["count"] = np.arange(rows, dtype=np.int32)
    return records.tobytes(), ns


def _read(body: bytes, sizes: np.ndarray) -> tuple[_Records, int]:
    records = _Records(DTYPE)
    edges = np.concatenate(([0], np.cumsum(sizes)))
    for a, b in itertools.pairwise(edges):
        records.add(body[a:b])
    return records, records.finish()


@pytest.mark.parametrize("most", [1, 55, 57, 65_536, 3_000_000])
def test_chunks_of_any_size_read_as_one_body(most: int) -> None:
    rows = 40_000  # a few blocks of a megabyte
    body, ns = _body(rows)
    rng = np.random.default_rng(most)
    sizes = rng.integers(1, most + 1, size=len(body) // max(1, most // 2) + 2)
    sizes = sizes[np.cumsum(sizes) <= len(body)]
    sizes = np.append(sizes, len(body) - sizes.sum())
    records, stray = _read(body, sizes)
    assert stray == 0
    assert len(records.blocks) == -(-len(body) // (records.rows * DTYPE.itemsize))
    table = _assemble(records.blocks, SPECS)
    assert table.time.tolist() == ns.tolist()
    whole = np.frombuffer(body, dtype=DTYPE)
    assert np.array_equal(table.values["B_GSE"], whole["B_GSE"])
    assert table.values["B_GSE"].flags.f_contiguous
    assert np.array_equal(table.values["count"], whole["count"])


def test_a_body_cut_inside_a_record_says_how_many_bytes_stray() -> None:
    body, ns = _body(10)
    records, stray = _read(body[:-5], np.array([len(body) - 5]))
    assert stray == DTYPE.itemsize - 5
    assert _assemble(records.blocks, SPECS).time.tolist() == ns[:9].tolist()


def test_an_empty_body_is_an_empty_table() -> None:
    records, stray = _read(b"", np.array([0]))
    table = _assemble(records.blocks, SPECS)
    assert stray == 0 and len(table.time) == 0
    assert table.values["B_GSE"].shape == (0, 3)
