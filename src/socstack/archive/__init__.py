"""The archive: files through fsspec (local folder or S3), atomic writes, checksums."""

from socstack.archive.layout import archive_key
from socstack.archive.store import Staged, Store

__all__ = ["Staged", "Store", "archive_key"]
