"""The values the API's filters take: what the loaded missions declare.

The missions, instruments, levels, products and rules that the loaded missions declare
are the values the filters of ``/api/files`` and ``/api/jobs`` take. A filter value
that no loaded mission declares (``?level=xx``) is a mistake, not a search that happens
to find nothing: answering ``200`` with an empty list would look like "no such files
yet". It is refused with a problem-details body that names the parameter and the values
it takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from socstack.mission.loader import MissionRegistry

__all__ = ["InvalidParameter", "Vocabulary"]


class InvalidParameter(Exception):  # noqa: N818 - a request's mistake, rendered as a 422
    """A query parameter names a value that no loaded mission declares."""

    def __init__(self, field: str, value: str, allowed: Iterable[str], what: str):
        self.field = field
        self.value = value
        self.allowed = sorted(allowed)
        choices = ", ".join(self.allowed) or "none (no mission is loaded)"
        super().__init__(f"{value!r} is not {what} of the loaded missions; use one of: {choices}")


@dataclass(frozen=True)
class Vocabulary:
    """The values each filter may take, from the missions' configurations."""

    missions: frozenset[str]
    instruments: frozenset[str]
    levels: frozenset[str]
    products: frozenset[str]
    rules: frozenset[str]

    @classmethod
    def of(cls, registry: MissionRegistry) -> Vocabulary:
        """The vocabulary of every mission in ``registry``."""
        missions = list(registry)
        products = [p for m in missions for p in m.products.values()]
        return cls(
            missions=frozenset(m.name for m in missions),
            instruments=frozenset(i for m in missions for i in m.instruments),
            levels=frozenset(p.level for p in products),
            products=frozenset(p.id for p in products),
            rules=frozenset(r for m in missions for r in m.rules),
        )

    def check(self, **values: str | None) -> None:
        """Raise :class:`InvalidParameter` for the first value not in its vocabulary.

        Keywords are the parameter names: ``mission``, ``instrument``, ``level``,
        ``product`` or ``rule``; ``None`` (not given) always passes.
        """
        for field, value in values.items():
            allowed, what = self._terms[field]
            if value is not None and value not in allowed:
                raise InvalidParameter(field, value, allowed, what)

    @property
    def _terms(self) -> dict[str, tuple[frozenset[str], str]]:
        return {
            "mission": (self.missions, "a mission"),
            "instrument": (self.instruments, "an instrument"),
            "level": (self.levels, "a level"),
            "product": (self.products, "a product"),
            "rule": (self.rules, "a rule"),
        }
