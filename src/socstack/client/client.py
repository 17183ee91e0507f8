""":class:`Client`: one call from a dataset id and a time range to an xarray Dataset.

As speasy's ``get_data``: the scientist names what and when, and the client decides
how. Inside the data center (no URL given, and the settings' catalog and archive are
there) it reads the archive directly; elsewhere it reads HAPI. Either way the same
access rule decides what the token sees, and the Dataset is the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from socstack._exceptions import ClientError, SocError
from socstack.access.tokens import parse_token
from socstack.client import chunked
from socstack.client.api import NO_TOKEN, Api, Runs, refusal
from socstack.client.assemble import empty_table, parameters_of, to_dataset
from socstack.client.direct import DirectTransport
from socstack.client.eventlists import EventLists
from socstack.client.hapi import HapiClientError, with_bin_parameters
from socstack.client.remote import HapiTransport
from socstack.config import Settings, get_settings
from socstack.runtime import Runtime
from socstack.times import parse_time

__all__ = ["Client"]

TimeLike = str | int | dt.datetime | dt.date | np.datetime64
_DAILY = {"1D", "1d", "D", "day"}


def _ns(value: TimeLike, what: str) -> int:
    """ns since 1970 of a time as scientists write them (naive means UTC)."""
    try:
        if isinstance(value, str):
            return parse_time(value)
        if isinstance(value, np.datetime64):
            return int(value.astype("datetime64[ns]").astype(np.int64))
        if isinstance(value, dt.datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            return int(
                np.datetime64(aware.astimezone(dt.UTC).replace(tzinfo=None), "ns").astype(np.int64)
            )
        if isinstance(value, dt.date):
            return int(np.datetime64(value, "ns").astype(np.int64))
        if isinstance(value, (int, np.integer)):
            return int(value)
    except (ValueError, OverflowError) as exc:
        raise ClientError(f"bad {what} time {value!r}: {exc}") from exc
    raise ClientError(f"bad {what} time {value!r}: give an ISO 8601 string or a datetime")


def _described(token: str | None, given: bool) -> str:
    """How messages name a token: its public id and where it came from, never its secret."""
    if not token:
        return NO_TOKEN
    parts = parse_token(token)
    name = f"token {parts.id}" if parts else "the token"
    return f"{name} ({'given to Client' if given else 'from SOC_TOKEN'})"


def _inside(settings: Settings) -> Runtime | None:
    """The data center's runtime if its catalog and archive are reachable from here."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None  # no catalog here (and asking SQLite would create an empty one)
    runtime = Runtime(settings)
    try:
        runtime.catalog.ping()
        root = runtime.archive.local_path("")
        if root is not None and not root.is_dir():
            raise ClientError(f"no archive at {root}")
    except SocError:
        runtime.close()
        return None
    return runtime


class Client:
    """The scientist's way into socstack (and any HAPI server).

    Parameters
    ----------
    url
        The data center's base URL (``/hapi`` and ``/api`` below it), or a HAPI server's
        URL ending in ``/hapi`` (any server: then only the HAPI calls work). None: read
        the archive directly when this machine reaches the settings' catalog and archive,
        else the settings' ``public_url``.
    token
        A socstack token; None takes ``SOC_TOKEN`` (a notebook run's own token).
    runtime
        Read this data center directly (overrides ``url``).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        runtime: Runtime | None = None,
        timeout: float = 60.0,
    ):
        settings = runtime.settings if runtime is not None else get_settings()
        given = token is not None
        self._token = token if given else (settings.token or None)
        self._describe = _described(self._token, given)
        self._timeout = timeout
        self._owned: Runtime | None = None
        if runtime is None and url is None:
            runtime = self._owned = _inside(settings)
            url = None if runtime is not None else settings.public_url or None
            if runtime is None and url is None:
                raise ClientError(
                    "no data center here: the settings' catalog and archive are not reachable"
                    " and no URL was given (Client(url=...) or SOC_PUBLIC_URL)"
                )
        self._api_url: str | None
        if runtime is not None:
            self.transport: DirectTransport | HapiTransport = DirectTransport(
                runtime, self._token, describe=self._describe
            )
            self._key = (settings.model_dump_json(), self._token)
            chunked.register(self._key, self.transport)
            base = settings.public_url.rstrip("/")
            self._api_url = f"{base}/api" if base else None
        else:
            assert url is not None  # noqa: S101 - decided above
            base = url.rstrip("/")
            hapi = base if base.endswith("/hapi") else f"{base}/hapi"
            self._api_url = None if base.endswith("/hapi") else f"{base}/api"
            try:
                self.transport = HapiTransport(hapi, self._token, timeout=timeout)
            except HapiClientError as exc:
                raise ClientError(str(exc)) from exc
        self._api: Api | None = None
        self.runs = Runs(self._rest)
        self.eventlists = EventLists(self._rest)

    @classmethod
    def direct(cls, runtime: Runtime | None = None, token: str | None = None) -> Client:
        """A client that reads the archive directly (the settings' data center by default)."""
        if runtime is None:
            runtime = _inside(get_settings())
            if runtime is None:
                raise ClientError("the settings' catalog and archive are not reachable from here")
            client = cls(token=token, runtime=runtime)
            client._owned = runtime
            return client
        return cls(token=token, runtime=runtime)

    @property
    def kind(self) -> str:
        """``direct`` or ``hapi``: how this client reads."""
        return self.transport.kind

    # -- HAPI ----------------------------------------------------------------------------
    def _call(self, method: str, *args: Any) -> Any:
        """A transport call whose refusals name the token."""
        try:
            return getattr(self.transport, method)(*args)
        except HapiClientError as exc:
            if exc.status in (401, 403):
                detail = str(exc).split(" answered ", 1)[-1]
                text = refusal(self.transport.server, exc.status, detail, self._describe)
                raise ClientError(text, exc.status) from exc
            raise

    def datasets(self) -> list[str]:
        """The ids of the datasets this token sees data of."""
        return [d for d, _ in self._call("catalog")]

    def info(self, dataset: str) -> dict[str, Any]:
        """The dataset's HAPI info, as its server gives it to this token."""
        return dict(self._call("info", dataset))

    def get(
        self,
        dataset: str,
        start: TimeLike,
        stop: TimeLike,
        parameters: str | Iterable[str] | None = None,
        chunks: str | None = None,
    ) -> xr.Dataset:
        """The records of ``dataset`` in [start, stop) as an xarray Dataset.

        The window is cut to the dataset's coverage (a window wholly outside gives an
        empty Dataset, with every variable). ``chunks="1D"``: Dask arrays, a day a chunk.
        """
        lo, hi = _ns(start, "start"), _ns(stop, "stop")
        if lo >= hi:
            raise ClientError(f"start ({start}) must be before stop ({stop})")
        if chunks is not None and chunks not in _DAILY:
            raise ClientError(f"chunks={chunks!r}: the one chunking is by day ('1D')")
        info = self.info(dataset)
        asked = [parameters] if isinstance(parameters, str) else parameters
        names = parameters_of(info, dataset, list(asked) if asked is not None else None)
        wanted = with_bin_parameters(info, names)
        lo = max(lo, parse_time(str(info["startDate"])))
        hi = min(hi, parse_time(str(info["stopDate"])))
        server = self.transport.server
        if lo >= hi:
            return to_dataset(dataset, server, info, empty_table(info, wanted), names)
        self.transport.record(dataset, lo, hi)
        if chunks is None:
            table = self._call("table", dataset, wanted, lo, hi)
            return to_dataset(dataset, server, info, table, names)
        if isinstance(self.transport, DirectTransport):
            shapes = _shapes(info, wanted)
            table = chunked.direct_by_day(
                self._key, _open_direct, dataset, names=wanted, shapes=shapes, start=lo, stop=hi
            )
            return to_dataset(dataset, server, info, table, names)
        table, sizes = chunked.hapi_by_day(self.transport, dataset, wanted, lo, hi)
        return chunked.rechunk(to_dataset(dataset, server, info, table, names), sizes)

    # -- the REST API --------------------------------------------------------------------
    def _rest(self) -> Api:
        if self._api is None:
            if self._api_url is None:
                raise ClientError(
                    f"{self.transport.server} is a HAPI server only: files, jobs, events and"
                    " runs need a socstack data center's URL (or SOC_PUBLIC_URL)"
                )
            self._api = Api(self._api_url, self._token, self._describe, timeout=self._timeout)
        return self._api

    def files(self, **filters: Any) -> list[dict[str, Any]]:
        """Catalogued files (mission, instrument, level, product, start, stop, version...)."""
        from socstack.client.api import _params

        body = self._rest().json("GET", "/files", params=_params(filters))
        return list(body["files"])

    def download(self, name: str, dest: str | Path = ".") -> Path:
        """One archived file into ``dest`` (a folder or a path); returns where it is."""
        return self._rest().download(name, Path(dest))

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        """Pipeline jobs (status, mission, rule, partition, since), newest first."""
        from socstack.client.api import _params

        return list(self._rest().json("GET", "/jobs", params=_params(filters))["jobs"])

    def events(self, after: int = 0, **filters: Any) -> list[dict[str, Any]]:
        """Events after the id ``after`` (kind, limit), in id order."""
        from socstack.client.api import _params

        params = _params({"after": after, **filters})
        return list(self._rest().json("GET", "/events", params=params)["events"])

    def publish(self, ds: xr.Dataset, product: str, *, mission: str | None = None) -> Any:
        """Hand ``ds`` to the notebook run this kernel is part of, as ``product``.

        ``ds`` may keep the names this client gave it (HAPI parameters, ``time``): they
        become the product's variables. When the run ends the worker archives it, with
        every file this client read as its provenance.
        """
        from socstack.analysis import runenv

        return runenv.publish(ds, product, mission=mission)

    def close(self) -> None:
        """Close connections (and the runtime this client opened itself)."""
        self.transport.close()
        if self._api is not None:
            self._api.close()
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.transport.server!r}, {self._describe})"


def _shapes(
    info: dict[str, Any], names: list[str]
) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    table = empty_table(info, names)
    return {n: (v.shape[1:], v.dtype) for n, v in table.values.items()}


def _open_direct(key: tuple[str, str | None]) -> DirectTransport:
    """The direct transport a chunk's key stands for, in a process that has none yet."""
    settings = Settings.model_validate_json(key[0])
    return DirectTransport(Runtime(settings), key[1])
