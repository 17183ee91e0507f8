"""HAPI status codes with their HTTP statuses (HAPI 3.3.1, section 4.2), and the error.

One table pairs every code with its HTTP status and message; one handler renders every
error body as ``{"HAPI": "3.3", "status": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import enum

from socstack._exceptions import SocError

__all__ = ["HAPI_VERSION", "HapiError", "HapiStatus"]

HAPI_VERSION = "3.3"


class HapiStatus(enum.Enum):
    """A HAPI status: (code, HTTP status, message), as in the specification's table."""

    OK = (1200, 200, "OK")
    NO_DATA = (1201, 200, "OK - no data for time range")
    BAD_REQUEST = (1400, 400, "Bad request - user input error")
    UNKNOWN_PARAMETER_NAME = (1401, 400, "Bad request - unknown API parameter name")
    BAD_START = (1402, 400, "Bad request - syntax error in start time")
    BAD_STOP = (1403, 400, "Bad request - syntax error in stop time")
    START_NOT_BEFORE_STOP = (1404, 400, "Bad request - start equal to or after stop")
    OUTSIDE_RANGE = (1405, 400, "Bad request - start < startDate and/or stop > stopDate")
    UNKNOWN_DATASET = (1406, 404, "Bad request - unknown dataset id")
    UNKNOWN_PARAMETER = (1407, 404, "Bad request - unknown dataset parameter")
    TOO_MUCH = (1408, 400, "Bad request - too much time or data requested")
    BAD_FORMAT = (1409, 400, "Bad request - unsupported output format")
    BAD_INCLUDE = (1410, 400, "Bad request - unsupported include value")
    BAD_PARAMETER_ORDER = (1411, 400, "Bad request - out-of-order or duplicate parameters")
    BAD_RESOLVE_REFERENCES = (1412, 400, "Bad request - unsupported resolve_references value")
    BAD_DEPTH = (1413, 400, "Bad request - unsupported depth value")
    INTERNAL = (1500, 500, "Internal server error")
    UPSTREAM = (1501, 500, "Internal server error - upstream request error")

    @property
    def code(self) -> int:
        """The HAPI code."""
        return self.value[0]

    @property
    def http(self) -> int:
        """The HTTP status that goes with it."""
        return self.value[1]

    @property
    def message(self) -> str:
        """The specification's message."""
        return self.value[2]

    def body(self, detail: str | None = None) -> dict[str, object]:
        """The HAPI status object; ``detail`` is appended to the standard message.

        Messages start with ``HAPI error NNNN:`` for errors, as clients and the public
        verifier look for it.
        """
        message = self.message if self.code < 1400 else f"HAPI error {self.code}: {self.message}"
        if detail:
            message += f": {detail}"
        return {"code": self.code, "message": message}


class HapiError(SocError):
    """A request the HAPI server refuses, with its status and a safe detail.

    ``http`` overrides the HTTP status of the table for the refusals HAPI has no code of
    its own for (credentials that do not hold: 401; too many failed attempts: 429), so
    that clients' HTTP machinery (netrc, a token prompt, a back-off) acts on them while
    the body stays a HAPI status; ``headers`` go with the response (``WWW-Authenticate``,
    ``Retry-After``).
    """

    def __init__(
        self,
        status: HapiStatus,
        detail: str | None = None,
        *,
        http: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.status = status
        self.detail = detail
        self.http = http if http is not None else status.http
        self.headers = dict(headers or {})
        super().__init__(status.body(detail)["message"])
