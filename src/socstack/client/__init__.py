"""``socstack.client``: the scientist's API, next to the data or from afar.

One :class:`Client` reads socstack (and any other HAPI server) into xarray Datasets.
Inside the data center it reads the archive's files through the catalog; elsewhere it
reads HAPI binary. Both transports ask the same authorization function.
"""
