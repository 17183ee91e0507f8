"""``vX.Y.Z`` versions of science files (the MMS scheme, see DESIGN.md).

X is the interface (declared per rule output), Y the quality (a calibration input or the
code's quality level changed), Z the revision (any other change of inputs or code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_VERSION = re.compile(r"^v?(\d{1,6})\.(\d{1,6})\.(\d{1,6})$")

Bump = Literal["interface", "quality", "revision"]


@dataclass(frozen=True, order=True, slots=True)
class Version:
    """A file version; ordering is numeric, so ``1.10.0 > 1.9.0``."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``X.Y.Z`` (a leading ``v`` is allowed); raise ``ValueError`` otherwise."""
        match = _VERSION.match(text.strip())
        if not match:
            raise ValueError(f"not a version of the form X.Y.Z: {text!r}")
        major, minor, patch = (int(g) for g in match.groups())
        return cls(major, minor, patch)

    def bump(self, what: Bump) -> Version:
        """The next version after a change of the given kind."""
        if what == "interface":
            return Version(self.major + 1, 0, 0)
        if what == "quality":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"
