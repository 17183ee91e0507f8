"""``socstack.client``: the scientist's API, next to the data or from afar.

One :class:`Client` reads socstack (and any other HAPI server) into xarray Datasets.
Inside the data center it reads the archive's files through the catalog; elsewhere it
reads HAPI binary. Both transports ask the same authorization function.

>>> from socstack.client import Client
>>> ds = Client().get("demo_mag_l2_1s", "2025-01-01", "2025-01-02")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from socstack._exceptions import ClientError

if TYPE_CHECKING:
    from socstack.client.client import Client

__all__ = ["Client", "ClientError"]


def __getattr__(name: str) -> Any:
    # Client (with its Dask reads) is imported on first use: the web images import
    # socstack.client.hapi (the harvester's HAPI reader) without Dask installed.
    if name == "Client":
        from socstack.client.client import Client

        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
