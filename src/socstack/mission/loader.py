"""Load mission folders into a registry; fail early with the file, the line, the field and why.

Every mistake of a mission file is reported at once: schema errors (an unknown key, a
missing field, a value of the wrong kind) first, and once the schema holds, the
cross-references between sections (see :mod:`socstack.mission.checks`). Each carries
the line of the YAML it is about, so ``mission.yaml:42: rules.l1.fucntion: unknown key
(did you mean 'function'?)`` leads the author straight to it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from socstack._exceptions import ConfigError, FileNameError, NotFoundError, Problem
from socstack.mission.checks import check_mission, check_notebook_rules, check_queues
from socstack.mission.model import Dataset, Mission, Product
from socstack.mission.patterns import FileName, is_safe_name
from socstack.mission.versions import Version

if TYPE_CHECKING:
    from socstack.formats.base import Reader

__all__ = ["MISSION_FILE", "MissionRegistry", "load_mission", "load_missions"]

logger = logging.getLogger(__name__)

MISSION_FILE = "mission.yaml"
Path_ = tuple[str | int, ...]


def _field_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _parse_field(text: str) -> Path_:
    """``rules.l1.inputs[0].product`` back into ('rules', 'l1', 'inputs', 0, 'product')."""
    parts: list[str | int] = []
    for piece in text.replace("[", ".[").split("."):
        if not piece:
            continue
        if piece.startswith("[") and piece.endswith("]") and piece[1:-1].isdigit():
            parts.append(int(piece[1:-1]))
        else:
            parts.append(piece)
    return tuple(parts)


class _Lines:
    """The line of every mapping key and sequence item of a YAML document."""

    def __init__(self, root: yaml.Node | None = None, lines: dict[Path_, int] | None = None):
        self.lines: dict[Path_, int] = dict(lines or {})
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: Path_) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value == "<<":  # a merge key: its entries belong to this mapping
                        self._walk(value, path)
                        continue
                    self.lines.setdefault((*path, key.value), key.start_mark.line + 1)
                    self._walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for n, item in enumerate(node.value):
                self._walk(item, (*path, n))

    def known(self, path: Path_) -> Path_:
        """The longest prefix of ``path`` that is in the document."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return path[:cut]
        return ()

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of the nearest enclosing entry that is in the file."""
        return self.lines.get(self.known(path))

    def at(self, problem: Problem) -> Problem:
        """``problem`` with its line, found from its field path."""
        if problem.line is not None or not problem.field:
            return problem
        return Problem(problem.message, problem.field, self.line(_parse_field(problem.field)))


def _read_yaml(path: Path) -> tuple[Any, _Lines]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from exc
    try:
        return yaml.safe_load(text), _Lines(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}invalid YAML: {problem}", source=str(path)) from exc


def _every_key() -> list[str]:
    """Every key the mission schema knows, for naming a misspelt optional one."""
    from pydantic import BaseModel

    from socstack.mission import model

    keys: set[str] = set()
    for value in vars(model).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            keys |= set(value.model_fields)
    return sorted(keys)


def _schema_problems(exc: ValidationError, lines: _Lines) -> list[Problem]:
    """pydantic's errors as problems: typos named as such, one problem per place."""
    errors = exc.errors()
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    explained: set[Path_] = set()
    by_place: dict[Path_, list[str]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            siblings = [m[-1] for m in missing if m[:-1] == loc[:-1]]
            close = difflib.get_close_matches(str(loc[-1]), [str(s) for s in siblings], n=1)
            # An optional key misspelt is missing from nowhere: look among every key.
            close = close or difflib.get_close_matches(str(loc[-1]), _every_key(), n=1)
            message = "unknown key (a typo?)"
            if close:
                message = f"unknown key (did you mean {close[0]!r}?)"
                explained.add((*loc[:-1], close[0]))
            place: Path_ = loc
        elif error["type"] == "missing":
            place = loc
        else:
            # A union's members each add their name to the location: drop what is not
            # in the file, so "required: maybe" is one problem with both reasons.
            known = lines.known(loc)
            place = loc if loc in lines.lines else (known if known else loc)
        by_place.setdefault(place, [])
        if message not in by_place[place]:
            by_place[place].append(message)
    problems = []
    for place, messages in by_place.items():
        if place in explained and place in missing and len(messages) == 1:
            continue  # "function: field required" because it was spelt "fucntion"
        problems.append(
            Problem("; or ".join(messages), _field_path(place) or None, lines.line(place))
        )
    return problems


def _mission_formats(
    data: dict[str, Any], folder: Path, lines: _Lines
) -> tuple[dict[str, Reader], list[Problem]]:
    """Import the readers a mission brings (``formats: {name: module:Class}``)."""
    from socstack.formats import registry
    from socstack.formats.base import Reader
    from socstack.mission.code import import_entry_point

    declared = data.get("formats") or {}
    if not isinstance(declared, dict):
        return {}, []  # the schema reports it
    readers: dict[str, Reader] = {}
    problems: list[Problem] = []
    code_dir = (folder / str(data.get("code", "."))).resolve()
    for name, entry in declared.items():
        where = f"formats.{name}"
        if name in registry.names():
            problems.append(
                Problem(f"{name!r} is a core format; give the mission's own another name", where)
            )
            continue
        try:
            target = import_entry_point(code_dir, str(entry))
        except (ImportError, AttributeError, ValueError) as exc:
            problems.append(Problem(f"cannot import {entry!r}: {exc}", where))
            continue
        if not (isinstance(target, type) and issubclass(target, Reader)):
            problems.append(Problem(f"{entry!r} is not a socstack.formats.Reader subclass", where))
            continue
        try:
            readers[str(name)] = target()
        except Exception as exc:  # the mission's own code: report, do not crash the load
            problems.append(Problem(f"{entry!r} cannot be made: {exc!r}", where))
    return readers, [lines.at(p) for p in problems]


_SECTIONS = ("instruments", "products", "datasets", "rules")


def _checks_of_the_rest(
    data: dict[str, Any], exc: ValidationError, context: dict[str, Any], lines: _Lines
) -> list[Problem]:
    """The cross-reference problems of the entries whose schema holds.

    So that one file's mistakes come out at once, the entries pydantic refused are left
    out and the rest is checked; a problem that only says a left-out entry is unknown
    is not reported (its own problem is).
    """
    dropped: dict[str, set[str]] = {}
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) < 2 or loc[0] not in _SECTIONS:
            return []  # a mistake of the mission itself: the rest cannot be checked
        dropped.setdefault(str(loc[0]), set()).add(str(loc[1]))
    rest = dict(data)
    for section, ids in dropped.items():
        entries = rest.get(section)
        if isinstance(entries, dict):
            rest[section] = {k: v for k, v in entries.items() if str(k) not in ids}
    try:
        partial = Mission.model_validate(rest, context=context)
    except ValidationError:
        return []
    gone = {f"'{i}'" for ids in dropped.values() for i in ids}
    return [
        lines.at(p) for p in check_mission(partial) if not any(name in p.message for name in gone)
    ]


def load_mission(folder: Path) -> Mission:
    """Load and validate the mission in ``folder``.

    Raises
    ------
    ConfigError
        Naming the YAML file and, for each mistake, its line, the field path
        (``products.mag_l0.pattern``) and the reason.
    """
    source = folder / MISSION_FILE
    data, lines = _read_yaml(source)
    if not isinstance(data, dict):
        raise ConfigError("the file must hold a mapping of mission settings", source=str(source))
    readers, problems = _mission_formats(data, folder, lines)
    context = {"mission_dir": folder.resolve(), "formats": readers}
    try:
        mission = Mission.model_validate(data, context=context)
    except ValidationError as exc:
        problems += _schema_problems(exc, lines)
        problems += _checks_of_the_rest(data, exc, context, lines)
        raise ConfigError(source=str(source), problems=problems) from exc
    problems += [lines.at(p) for p in check_mission(mission)]
    problems += [lines.at(p) for p in check_notebook_rules(mission, folder.resolve())]
    if any(rule.detector is not None for rule in mission.rules.values()):
        from socstack.mining.rules import check_detector_rules

        problems += [lines.at(p) for p in check_detector_rules(mission)]
    if problems:
        raise ConfigError(source=str(source), problems=problems)
    mission._folder = folder.resolve()
    mission._lines = lines.lines
    return mission


def _mission_folders(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if (path / MISSION_FILE).is_file():
            yield path
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if (p / MISSION_FILE).is_file())
            if not children:
                raise ConfigError(f"no {MISSION_FILE} here or in its sub-folders", source=str(path))
            yield from children
        else:
            raise ConfigError("mission folder does not exist", source=str(path))


@dataclass
class MissionRegistry:
    """All loaded missions, and the name-to-product lookup every ingest door uses."""

    missions: dict[str, Mission] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._products: list[Product] = [
            p for m in self.missions.values() for p in m.products.values()
        ]
        self._check_patterns_disjoint()

    def _source(self, mission: str) -> str:
        return str(self.missions[mission].folder / MISSION_FILE)

    def _lines(self, mission: str) -> _Lines:
        return _Lines(lines=self.missions[mission].lines)

    def _check_patterns_disjoint(self) -> None:
        """No name may match two products: try every product's sample names on the others."""
        sample_date, sample_version = dt.date(2025, 1, 31), Version(1, 0, 0)
        for product in self._products:
            for sample in product.name_pattern.samples(sample_date, sample_version):
                for other in self._products:
                    if other is not product and other.parse_name(sample) is not None:
                        where = f"products.{product.id}.pattern"
                        raise ConfigError(
                            f"pattern also matches product {other.key!r}'s names (e.g. {sample})",
                            source=self._source(product.mission),
                            field=where,
                            line=self._lines(product.mission).line(_parse_field(where)),
                        )

    def check_queues(self, queues: Iterable[str]) -> None:
        """Refuse a rule whose queue no worker takes (its jobs would stay queued for ever)."""
        known = list(queues)
        for mission in self.missions.values():
            problems = check_queues(mission, known)
            if problems:
                lines = self._lines(mission.name)
                raise ConfigError(
                    source=self._source(mission.name), problems=[lines.at(p) for p in problems]
                )

    def __iter__(self) -> Iterator[Mission]:
        return iter(self.missions.values())

    def mission(self, name: str) -> Mission:
        """The mission called ``name``."""
        try:
            return self.missions[name]
        except KeyError:
            known = ", ".join(sorted(self.missions)) or "none"
            raise NotFoundError(f"no mission {name!r} (loaded: {known})") from None

    def products(self) -> list[Product]:
        """Every product of every mission."""
        return list(self._products)

    def product(self, mission: str, product_id: str) -> Product:
        """One product by mission and id."""
        found = self.mission(mission).products.get(product_id)
        if found is None:
            raise NotFoundError(f"mission {mission!r} has no product {product_id!r}")
        return found

    def datasets(self) -> list[tuple[Mission, Dataset]]:
        """Every HAPI dataset with its mission."""
        return [(m, d) for m in self.missions.values() for d in m.datasets.values()]

    def parse_name(self, name: str) -> tuple[Product, FileName]:
        """The product a file name belongs to, and the parsed name.

        Raises
        ------
        FileNameError
            If the name is not a plain file name or matches no product's pattern.
        """
        if not is_safe_name(name):
            raise FileNameError(f"{name!r} is not a plain file name")
        for product in self._products:
            parsed = product.parse_name(name)
            if parsed is not None:
                return product, parsed
        raise FileNameError(f"{name} matches no product's file-name pattern")


def load_missions(paths: Iterable[Path], *, queues: Iterable[str] | None = None) -> MissionRegistry:
    """Load every mission under ``paths`` (mission folders or folders of them).

    ``queues``, when given, are the queues this deployment's workers take: a rule on any
    other queue is refused (its jobs would wait for ever).
    """
    missions: dict[str, Mission] = {}
    for folder in _mission_folders(paths):
        mission = load_mission(folder)
        if mission.name in missions:
            raise ConfigError(
                f"mission {mission.name!r} is also defined in {missions[mission.name].folder}",
                source=str(folder / MISSION_FILE),
                field="name",
            )
        missions[mission.name] = mission
        logger.debug("loaded mission %s from %s", mission.name, folder)
    registry = MissionRegistry(missions)
    if queues is not None:
        registry.check_queues(queues)
    return registry
