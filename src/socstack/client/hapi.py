"""Reading any HAPI server: catalog, info and data as numpy columns.

The one HAPI client of the code base: ``socstack.client`` reads with it over HAPI, and
the viz reads socstack's own server and anyone else's the same way. hapiclient (the
reference client) turns every time into a Python ``datetime`` and caches to a disk
folder per user; here a year of 1 Hz data must become numpy in about a second, inside
a server process, with errors a page can show. So this client streams the binary
format (csv where a server lacks it) straight into typed columns and maps every
failure to a :class:`HapiClientError` with one clear line.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from socstack._exceptions import ClientError
from socstack.times import format_time, parse_times

__all__ = ["Dataset", "HapiClientError", "HapiServer", "Table", "with_bin_parameters"]

_BLOCK = 1 << 20  # bytes read per step of a binary response
_INFO_FOR_AT_MOST = 60


class HapiClientError(ClientError):
    """A HAPI server could not give what was asked; the message is for the page."""


@dataclass(frozen=True)
class Dataset:
    """One catalog entry, with its coverage when the server tells it."""

    id: str
    title: str = ""
    start: str = ""
    stop: str = ""


@dataclass
class Table:
    """A data response: times in ns since 1970 and one array per parameter."""

    time: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    #: The doubles' fill values are NaN already (the direct transport does it file by
    #: file, while each file is in the CPU's cache, not over a year's array afterwards).
    nan_filled: bool = False

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays (the cache's budget counts these)."""
        return int(self.time.nbytes + sum(v.nbytes for v in self.values.values()))

    def window(self, start: int, stop: int) -> Table:
        """The records with ``start <= time < stop`` (views, not copies)."""
        a, b = np.searchsorted(self.time, [start, stop], side="left")
        return Table(self.time[a:b], {k: v[a:b] for k, v in self.values.items()})


class HapiServer:
    """A HAPI server at ``url`` (ending in ``/hapi``), read over one HTTP client."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        client: httpx.Client | None = None,
        binary: bool = True,
        info_ttl: float = 30.0,
        headers: dict[str, str] | None = None,
    ):
        self.url = url.strip().rstrip("/")
        # Sent with every request (the viz's user's token, to socstack's own server only).
        self.headers = dict(headers or {})
        self.binary = binary  # False: always csv (a server whose binary is broken)
        if not self.url.startswith(("http://", "https://")):
            raise HapiClientError(f"{url!r} is not an http:// or https:// URL of a HAPI server")
        self.timeout = timeout
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=True)
        # A live archive grows: infos (coverage, modificationDate) are read again after
        # ``info_ttl`` seconds, so presets and the download cache follow new files.
        self.info_ttl = info_ttl
        self._infos: dict[str, tuple[float, dict[str, Any]]] = {}
        self._capabilities: dict[str, Any] | None = None

    # -- metadata ----------------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        """The server's capabilities, read once."""
        if self._capabilities is None:
            self._capabilities = self._json("capabilities")
        return self._capabilities

    def catalog(self) -> list[Dataset]:
        """Every dataset, with title and coverage.

        Coverage comes with the catalog where the server serves ``depth=all`` (HAPI 3.2
        and later: one request); else
        from each dataset's info, fetched side by side, for catalogs of up to
        ``_INFO_FOR_AT_MOST`` datasets (a large one lists ids and titles only).
        """
        try:
            body = self._json("catalog", depth="all")
        except HapiClientError as exc:
            if exc.status is None or exc.status >= 500:
                raise
            body = self._json("catalog")
        entries = body.get("catalog")
        if not isinstance(entries, list):
            raise HapiClientError(f"{self.url}/catalog has no catalog list")
        out = []
        for entry in entries:
            if not isinstance(entry, dict) or "id" not in entry:
                continue
            info = entry.get("info") or {}
            if info:
                self._infos[str(entry["id"])] = (time.monotonic(), info)
            out.append(Dataset(id=str(entry["id"]), title=str(entry.get("title") or "")))
        if len(out) <= _INFO_FOR_AT_MOST:
            with ThreadPoolExecutor(max_workers=8) as pool:
                infos = list(pool.map(self._info_or_none, [d.id for d in out]))
            out = [
                Dataset(d.id, d.title, str(i.get("startDate", "")), str(i.get("stopDate", "")))
                if i
                else d
                for d, i in zip(out, infos, strict=True)
            ]
        return out

    def _info_or_none(self, dataset: str) -> dict[str, Any] | None:
        try:
            return self.info(dataset)
        except HapiClientError:
            return None

    def info(self, dataset: str) -> dict[str, Any]:
        """A dataset's info, read again once it is ``info_ttl`` seconds old."""
        read, info = self._infos.get(dataset, (0.0, None))
        if info is None or time.monotonic() - read >= self.info_ttl:
            info = self._json("info", **{self._id_key: dataset})
            self._infos[dataset] = (time.monotonic(), info)
        return info

    @property
    def _id_key(self) -> str:
        """HAPI 2 named the dataset ``id`` (and the times ``time.min``/``time.max``)."""
        return "id" if str(self.capabilities().get("HAPI", "3")).startswith("2") else "dataset"

    # -- data --------------------------------------------------------------------------
    def data(self, dataset: str, parameters: list[str], start: int, stop: int) -> Table:
        """Records of ``parameters`` in ``[start, stop)`` (ns since 1970)."""
        table = self.data_if_modified(dataset, parameters, start, stop, None)
        assert table is not None  # noqa: S101 - an unconditional request is never 304
        return table

    def data_if_modified(
        self,
        dataset: str,
        parameters: list[str],
        start: int,
        stop: int,
        since: dt.datetime | None,
    ) -> Table | None:
        """The records as :meth:`data`, or None if they are unchanged since ``since``.

        Sends ``If-Modified-Since``: a server that keeps per-request ``Last-Modified``
        (socstack does) answers 304 without a body for a range that did not change, so
        a harvest checks a day costs a request, not the day's records.
        """
        info = self.info(dataset)
        wanted = with_bin_parameters(info, parameters)
        specs = _specs(info, wanted)
        formats = self.capabilities().get("outputFormats", ["csv"])
        old = self._id_key == "id"
        params = {
            self._id_key: dataset,
            "parameters": ",".join(wanted),
            "time.min" if old else "start": format_time(start, 9),
            "time.max" if old else "stop": format_time(stop, 9),
        }
        extra: dict[str, str] = {}
        if since is not None:
            utc = since.replace(tzinfo=dt.UTC) if since.tzinfo is None else since
            when = utc.astimezone(dt.UTC)
            extra["If-Modified-Since"] = email.utils.format_datetime(when, usegmt=True)
        try:
            if self.binary and "binary" in formats:
                params["format"] = "binary"
                return self._binary(params, specs, extra)
            return self._csv(params, specs, extra)
        except _NotModifiedError:
            return None

    def _binary(
        self, params: dict[str, str], specs: list[_Spec], extra: dict[str, str] | None = None
    ) -> Table:
        records = _Records(np.dtype([(s.name, s.dtype, s.shape) for s in specs]))
        # Uncompressed: doubles of measurements barely compress, and gzip held a year of
        # 1 Hz data to a server's compression speed (a few tens of MB/s) instead of the
        # network's.
        headers = {"Accept-Encoding": "identity", **(extra or {})}
        with self._stream("data", params, headers) as response:
            for chunk in response.iter_body():
                records.add(chunk)
        stray = records.finish()
        if stray:
            raise HapiClientError(
                f"{self.url}/data ended inside a record ({stray} stray bytes):"
                " the response does not match the dataset's info"
            )
        return _assemble(records.blocks, specs)

    def _csv(
        self, params: dict[str, str], specs: list[_Spec], extra: dict[str, str] | None = None
    ) -> Table:
        import pyarrow as pa
        from pyarrow import csv

        with self._stream("data", params, extra) as response:
            body = response.read()
        if not body.strip():
            return _assemble([], specs)
        names: list[str] = []
        types: dict[str, pa.DataType] = {}
        for s in specs:
            count = int(np.prod(s.shape)) if s.shape else 1
            for k in range(count):
                column = f"{s.name}.{k}"
                names.append(column)
                kind = s.dtype[0] if isinstance(s.dtype, str) else "f"
                types[column] = pa.string() if kind in "SU" else pa.float64()
        try:
            table = csv.read_csv(
                io.BytesIO(body),
                read_options=csv.ReadOptions(column_names=names),
                convert_options=csv.ConvertOptions(column_types=types),
            )
        except pa.ArrowInvalid as exc:
            raise HapiClientError(
                f"{self.url}/data sent csv that does not fit its info: {exc}"
            ) from None
        time = parse_times(np.asarray(table.column(names[0]).to_numpy(zero_copy_only=False)))
        values: dict[str, np.ndarray] = {}
        for s in specs[1:]:
            count = int(np.prod(s.shape)) if s.shape else 1
            cols = [
                table.column(f"{s.name}.{k}").to_numpy(zero_copy_only=False) for k in range(count)
            ]
            array = np.stack(cols, axis=1) if s.shape else cols[0]
            values[s.name] = np.asfortranarray(array)
        return Table(time, values)

    # -- HTTP --------------------------------------------------------------------------
    def _json(self, endpoint: str, **params: str) -> dict[str, Any]:
        with self._stream(endpoint, params) as response:
            body = response.read()
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise HapiClientError(f"{self.url}/{endpoint} did not answer with JSON") from exc
        if not isinstance(value, dict):
            raise HapiClientError(f"{self.url}/{endpoint} did not answer with a JSON object")
        return value

    def _stream(
        self, endpoint: str, params: dict[str, str], headers: dict[str, str] | None = None
    ) -> _Response:
        url = f"{self.url}/{endpoint}"
        sent = {**self.headers, **(headers or {})}
        try:
            request = self.client.build_request("GET", url, params=params, headers=sent)
            response = self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise HapiClientError(f"{self.url} did not answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise HapiClientError(f"cannot reach {self.url}: {_reason(exc)}") from exc
        if response.status_code == 304:
            response.close()
            raise _NotModifiedError
        if response.status_code >= 400:
            body = response.read()
            response.close()
            raise HapiClientError(
                _status_message(url, response.status_code, body), response.status_code
            )
        return _Response(response, self)


class _NotModifiedError(Exception):
    """A conditional request's 304: the range is unchanged."""


class _Response:
    """A streamed response whose read errors become :class:`HapiClientError`."""

    def __init__(self, response: httpx.Response, server: HapiServer):
        self.response = response
        self.server = server

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.response.close()

    def read(self) -> bytes:
        try:
            return self.response.read()
        except httpx.HTTPError as exc:
            raise HapiClientError(f"{self.server.url} broke off: {_reason(exc)}") from exc

    def iter_body(self) -> Iterator[bytes]:
        """The body's bytes as they arrive, decoded only where the server encoded them.

        An identity body is read raw: httpx's re-chunking into blocks would copy every
        byte twice more, and the records are gathered into blocks here anyway.
        """
        encoding = self.response.headers.get("content-encoding", "identity").strip().lower()
        try:
            if encoding in ("", "identity"):
                yield from self.response.iter_raw()
            else:
                yield from self.response.iter_bytes()
        except httpx.HTTPError as exc:
            raise HapiClientError(f"{self.server.url} broke off: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def _status_message(url: str, code: int, body: bytes) -> str:
    """HAPI's own status message when the server sent one, else the HTTP status."""
    try:
        status = json.loads(body).get("status", {})
        hapi_code, message = status.get("code"), status.get("message")
    except (ValueError, AttributeError):
        hapi_code = message = None
    if hapi_code and message:
        text = str(message)
        if not text.startswith("HAPI error"):
            text = f"HAPI error {hapi_code}: {text}"
        return f"{url} answered {text}"
    return f"{url} answered HTTP {code}"


@dataclass(frozen=True)
class _Spec:
    name: str
    dtype: str
    shape: tuple[int, ...]
    is_time: bool = False


def _specs(info: dict[str, Any], wanted: list[str]) -> list[_Spec]:
    """What each column of a data response holds, in the server's order (time first)."""
    parameters = info.get("parameters") or []
    if not parameters:
        raise HapiClientError("the dataset's info lists no parameters")
    known = {str(p.get("name")): p for p in parameters}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise HapiClientError(f"unknown parameter(s): {', '.join(unknown)}")
    chosen = {parameters[0]["name"], *wanted}
    out = []
    for i, p in enumerate(parameters):
        if p["name"] not in chosen:
            continue
        kind = p.get("type", "double")
        if kind in ("isotime", "string"):
            dtype = f"S{int(p.get('length', 24))}"
        elif kind == "integer":
            dtype = "<i4"
        else:
            dtype = "<f8"
        shape = tuple(int(n) for n in p.get("size") or ())
        out.append(_Spec(str(p["name"]), dtype, shape, is_time=i == 0))
    return out


def with_bin_parameters(info: dict[str, Any], wanted: list[str]) -> list[str]:
    """``wanted`` plus the parameters that hold time-varying bins of any of them."""
    by_name = {p.get("name"): p for p in info.get("parameters") or []}
    extra = []
    for name in wanted:
        for axis in (by_name.get(name) or {}).get("bins") or []:
            for key in ("centers", "ranges"):
                ref = axis.get(key)
                if isinstance(ref, str) and ref not in wanted and ref not in extra:
                    extra.append(ref)
    return [*wanted, *extra]


class _Records:
    """A binary body gathered into blocks of whole records, each byte copied once.

    Chunks arrive in whatever sizes the connection gives (64 kB from httpcore); each is
    copied into the current block's buffer, and a full block is kept as it is, its
    times decoded while later chunks arrive.
    """

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype
        self.rows = max(1, _BLOCK // dtype.itemsize)
        self.blocks: list[_Block] = []
        self._buffer = np.empty(self.rows * dtype.itemsize, dtype=np.uint8)
        self._filled = 0

    def add(self, chunk: bytes) -> None:
        """Copy ``chunk`` in, closing each block it fills."""
        data = np.frombuffer(chunk, dtype=np.uint8)
        while len(data):
            room = len(self._buffer) - self._filled
            taken = data[:room]
            self._buffer[self._filled : self._filled + len(taken)] = taken
            self._filled += len(taken)
            data = data[room:]
            if self._filled == len(self._buffer):
                self._close(self.rows)

    def finish(self) -> int:
        """Close the last block; return the bytes past its last record (0: a good body)."""
        whole = self._filled // self.dtype.itemsize
        if whole:
            self._close(whole)
        return self._filled

    def _close(self, rows: int) -> None:
        size = rows * self.dtype.itemsize
        records = self._buffer[:size].view(self.dtype)
        self.blocks.append(_Block(records, parse_times(records[records.dtype.names[0]])))
        rest = self._buffer[size : self._filled]
        self._buffer = np.empty(self.rows * self.dtype.itemsize, dtype=np.uint8)
        self._buffer[: len(rest)] = rest
        self._filled = len(rest)


@dataclass(frozen=True)
class _Block:
    """One block of a binary body: its records as they came and their decoded times."""

    records: np.ndarray
    time: np.ndarray


def _assemble(blocks: list[_Block], specs: list[_Spec]) -> Table:
    """The blocks' columns, each copied once from the records into its final array.

    Column-major: each component is contiguous, so reducing one is a single pass. The
    blocks are consumed (each let go once copied): a year's records are not held twice.
    """
    count = sum(len(b.time) for b in blocks)
    time = np.concatenate([b.time for b in blocks]) if blocks else np.empty(0, dtype=np.int64)
    values = {
        s.name: np.empty((count, *s.shape), dtype=np.dtype(s.dtype), order="F") for s in specs[1:]
    }
    start = 0
    blocks.reverse()
    while blocks:
        block = blocks.pop()
        stop = start + len(block.time)
        for name, column in values.items():
            column[start:stop] = block.records[name]
        start = stop
    return Table(time, values)
