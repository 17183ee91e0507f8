"""The one exception hierarchy of socstack.

Every error the core raises on purpose is a :class:`SocError`; third-party errors are
translated at the boundary (``raise ... from exc``) so that each service maps one tree to
its protocol: HTTP problem details in the API, HAPI status codes in the HAPI server, exit
codes and one clear line in the CLI.

::

    SocError
    ├── ConfigError            settings or a mission file are invalid (file, field, reason)
    ├── NotFoundError          a named thing (file, mission, product, job) does not exist
    ├── ParameterError         a notebook run's parameters do not fit its notebook
    ├── FileRejected           a file cannot enter the archive; it goes to quarantine
    │   ├── FileNameError      the name matches no product pattern (or more than one)
    │   ├── FormatError        the content does not open with the product's reader
    │   └── ConflictError      the name is archived already with different content
    ├── StorageError           the archive or quarantine store failed (often transient)
    │   └── FileChanged        a file changed while it was being read; nothing was kept
    ├── CatalogError           the catalog database failed (often transient)
    ├── ClientError            socstack.client could not give what was asked (one line)
    │   └── HapiClientError    (socstack.client.hapi) a HAPI server refused or broke off
    └── AccessError            a request may not be served as asked
        ├── AuthenticationError    credentials are malformed, unknown, expired or revoked
        ├── AccessDenied           the identity may not do this (a token would not help)
        └── TooManyFailures        too many failed authentications from one client
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SocError(Exception):
    """Root of every error socstack raises on purpose."""

    #: Exit code of the CLI when this error ends a command.
    exit_code: int = 1


@dataclass(frozen=True)
class Problem:
    """One mistake in a configuration file: where (field path, line) and what."""

    message: str
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return where + self.message


class ConfigError(SocError):
    """Settings or a mission configuration are invalid.

    The message names the file, the line, the field and what is wrong, so the operator
    can fix the configuration without reading code. A file with several mistakes gives
    them all at once (``problems``), so fixing one does not merely reveal the next.
    """

    exit_code = 78  # EX_CONFIG

    def __init__(
        self,
        message: str = "",
        *,
        source: str | None = None,
        field: str | None = None,
        line: int | None = None,
        problems: Sequence[Problem] = (),
    ):
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems) or (Problem(message, field, line),)
        first = self.problems[0]
        self.field = first.field
        self.line = first.line
        super().__init__(self._render())

    def _render(self) -> str:
        def where(problem: Problem) -> str:
            place = self.source or ""
            if problem.line is not None:
                place = f"{place}:{problem.line}" if place else f"line {problem.line}"
            return f"{place}: " if place else ""

        if len(self.problems) == 1:
            return where(self.problems[0]) + str(self.problems[0])
        lines = [f"{self.source}: {len(self.problems)} problems" if self.source else ""]
        lines += [f"  {where(p)}{p}" for p in self.problems]
        return "\n".join(line for line in lines if line)


class NotFoundError(SocError):
    """A named thing (file, mission, product, job) does not exist."""


class ParameterError(SocError):
    """A notebook run asks for parameters its notebook does not take (or of another type).

    ``parameters`` lists what the notebook does take (name, type, default), so the
    answer tells the user what to send.
    """

    def __init__(self, message: str, *, parameters: Sequence[dict[str, str]] = ()):
        self.parameters = list(parameters)
        super().__init__(message)


class FileRejected(SocError):  # noqa: N818 - a rejection is an outcome, not a crash
    """A file cannot enter the archive; its reason is recorded in quarantine."""

    #: Short machine-readable reason class, stored with the quarantined file.
    kind: str = "rejected"


class FileNameError(FileRejected):
    """A file name matches no product pattern, or matches more than one."""

    kind = "name"


class FormatError(FileRejected):
    """A file's content does not open with its product's reader."""

    kind = "format"


class ConflictError(FileRejected):
    """A file of the same name but different content is archived already."""

    kind = "conflict"


class StorageError(SocError):
    """The archive or quarantine store failed to read or write."""


class FileChanged(StorageError):  # noqa: N818 - like FileRejected, an outcome to wait out
    """A file changed (or was replaced) while it was being read; nothing was kept.

    Its writer is not done with it. It is neither archived nor quarantined, since its
    content was never seen whole; the caller tries again once it holds still (the drop
    box waits for it to settle anew). A subclass of :class:`StorageError` so that any
    caller that retries storage failures retries this too.
    """


class CatalogError(SocError):
    """The catalog database failed."""


class ClientError(SocError):
    """``socstack.client`` could not give what the scientist asked for.

    One line that says what to change: the dataset or parameter that does not exist, the
    time that does not parse, the token (by its scope, never its text) that was refused,
    the server that did not answer. ``status`` is the HTTP status when a server answered.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AccessError(SocError):
    """A request may not be served as it was asked."""

    exit_code = 77  # EX_NOPERM


class AuthenticationError(AccessError):
    """Credentials were given and do not hold (the message never repeats them)."""


class AccessDenied(AccessError):  # noqa: N818 - a refusal, as FileRejected
    """The identity is known and may not do this."""


class TooManyFailures(AccessError):  # noqa: N818
    """Too many failed authentications from one client; it must wait ``retry_after`` s."""

    def __init__(self, message: str, retry_after: int):
        self.retry_after = retry_after
        super().__init__(message)
