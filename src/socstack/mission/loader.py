"""Load mission folders into a registry; fail early with the file, the field and the reason."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from socstack._exceptions import ConfigError, FileNameError, NotFoundError
from socstack.mission.model import Dataset, Mission, Product
from socstack.mission.patterns import FileName, is_safe_name
from socstack.mission.versions import Version

__all__ = ["MISSION_FILE", "MissionRegistry", "load_mission", "load_missions"]

logger = logging.getLogger(__name__)

MISSION_FILE = "mission.yaml"


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}invalid YAML: {problem}", source=str(path)) from exc


def load_mission(folder: Path) -> Mission:
    """Load and validate the mission in ``folder``.

    Raises
    ------
    ConfigError
        Naming the YAML file, the field path (``products.mag_l0.pattern``) and the reason.
    """
    source = folder / MISSION_FILE
    data = _read_yaml(source)
    if not isinstance(data, dict):
        raise ConfigError("the file must hold a mapping of mission settings", source=str(source))
    try:
        mission = Mission.model_validate(data, context={"mission_dir": folder.resolve()})
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (a typo?)"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more error{'s' if more > 1 else ''})"
        raise ConfigError(
            message, source=str(source), field=_field_path(error["loc"]) or None
        ) from exc
    mission._folder = folder.resolve()
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

    def _check_patterns_disjoint(self) -> None:
        """No name may match two products: try every product's sample name on the others."""
        sample_date, sample_version = dt.date(2025, 1, 31), Version(1, 0, 0)
        for product in self._products:
            sample = product.name_pattern.format(sample_date, sample_version)
            for other in self._products:
                if other is not product and other.parse_name(sample) is not None:
                    raise ConfigError(
                        f"pattern also matches product {other.key!r}'s names (e.g. {sample})",
                        source=str(self.missions[product.mission].folder / MISSION_FILE),
                        field=f"products.{product.id}.pattern",
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


def load_missions(paths: Iterable[Path]) -> MissionRegistry:
    """Load every mission under ``paths`` (mission folders or folders of them)."""
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
    return MissionRegistry(missions)
