"""Science file formats: CCSDS telemetry (space_packet_parser), CDF (cdflib), CSV, PNG, text."""

from socstack.formats.base import Inspection, Reader
from socstack.formats.registry import get

__all__ = ["Inspection", "Reader", "get"]
