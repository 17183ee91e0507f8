"""``socstack.client``: the scientist's API, next to the data or from afar.

One :class:`Client` reads socstack (and any other HAPI server) into xarray Datasets.
Inside the data center it reads the archive's files through the catalog; elsewhere it
reads HAPI binary. Both transports ask the same authorization function.

>>> from socstack.client import Client
>>> ds = Client().get("demo_mag_l2_1s", "2025-01-01", "2025-01-02")  # doctest: +SKIP
"""

from socstack._exceptions import ClientError
from socstack.client.client import Client

__all__ = ["Client", "ClientError"]
