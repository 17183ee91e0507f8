"""Encoders for the demo mission's telemetry packets.

The layouts mirror ``packets/mag.xml`` and ``packets/pls.xml`` field for field (numpy
structured dtypes, big-endian); the test suite decodes generated files with those XTCE
definitions through space_packet_parser to keep the two in step.
"""

from __future__ import annotations

import numpy as np

from demo_mission.mag.instrument import VECTORS_PER_PACKET as MAG_VECTORS_PER_PACKET
from demo_mission.mag.instrument import resolution as mag_resolution

MAG_APID = 1040
PLS_APID = 1120

_PRIMARY = [("word0", ">u2"), ("word1", ">u2"), ("length", ">u2")]
_SECONDARY = [("coarse", ">u4"), ("fine", ">u2")]

MAG_DTYPE = np.dtype(
    [
        *_PRIMARY,
        *_SECONDARY,
        ("mode", "u1"),
        ("rate", "u1"),
        ("range", "u1"),
        ("spare", "u1"),
        ("nvec", ">u2"),
        ("vectors", ">i2", (MAG_VECTORS_PER_PACKET, 3)),
    ]
)
PLS_DTYPE = np.dtype(
    [
        *_PRIMARY,
        *_SECONDARY,
        ("mode", "u1"),
        ("quality", "u1"),
        ("density", ">u2"),
        ("velocity", ">i2", (3,)),
        ("temperature", ">u2"),
        ("counts", ">u4", (32,)),
    ]
)

# Engineering-unit scale factors, as in the XTCE polynomial calibrators.
DENSITY_SCALE = 0.01  # cm^-3 per count
VELOCITY_SCALE = 0.1  # km/s per count
TEMPERATURE_SCALE = 100.0  # K per count


def _header(packets: np.ndarray, apid: int, sequence: np.ndarray, times: np.ndarray) -> None:
    packets["word0"] = (1 << 11) | apid  # version 0, telemetry, secondary header present
    packets["word1"] = (3 << 14) | (sequence % 16384)  # unsegmented
    packets["length"] = packets.dtype.itemsize - 7
    coarse = np.floor(times)
    fine = np.round((times - coarse) * 65536.0)
    carry = fine >= 65536
    packets["coarse"] = (coarse + carry).astype(np.uint32)
    packets["fine"] = np.where(carry, 0, fine).astype(np.uint16)


def mag_packets(
    times: np.ndarray, field: np.ndarray, sequence: np.ndarray, rate_log2: int = 0
) -> bytes:
    """Encode packets of 60 vectors.

    ``times`` are the packets' first-vector times (s since the clock epoch), ``field``
    the measured field in sensor nT with shape (packets, 60, 3).
    """
    packets = np.zeros(len(times), dtype=MAG_DTYPE)
    _header(packets, MAG_APID, sequence, times)
    peak = np.abs(field).reshape(len(times), -1).max(axis=1)
    full_scale = 128.0 * 4.0 ** np.arange(4) * 0.98
    range_index = np.minimum(np.searchsorted(full_scale, peak), 3)
    counts = np.round(field / mag_resolution(range_index)[:, None, None])
    packets["mode"] = 1 if rate_log2 else 0
    packets["rate"] = rate_log2
    packets["range"] = range_index
    packets["nvec"] = MAG_VECTORS_PER_PACKET
    packets["vectors"] = np.clip(counts, -32768, 32767).astype(np.int16)
    return packets.tobytes()


def pls_packets(
    times: np.ndarray,
    *,
    density: np.ndarray,
    velocity: np.ndarray,
    temperature: np.ndarray,
    counts: np.ndarray,
    sequence: np.ndarray,
) -> bytes:
    """Encode one packet per sweep: measured moments and 32 step counts."""
    packets = np.zeros(len(times), dtype=PLS_DTYPE)
    _header(packets, PLS_APID, sequence, times)
    limit = np.iinfo(np.uint32).max
    packets["quality"] = (counts > limit).any(axis=1).astype(np.uint8)
    packets["density"] = np.clip(np.round(density / DENSITY_SCALE), 0, 65535)
    packets["velocity"] = np.clip(np.round(velocity / VELOCITY_SCALE), -32768, 32767)
    packets["temperature"] = np.clip(np.round(temperature / TEMPERATURE_SCALE), 0, 65535)
    packets["counts"] = np.clip(counts, 0, limit)
    return packets.tobytes()
