"""The notebooks a run may name, and the parameters each takes.

Two libraries: each mission's ``notebooks/`` folder (names ``<mission>/<file>.ipynb``)
and the deployment's own (``SOC_NOTEBOOKS_DIR``, names ``<file>.ipynb``). A notebook's
parameters are those of its cell tagged ``parameters``, as papermill reads them
(:func:`papermill.inspect_notebook`); a request's parameters are checked against them
before anything is queued, so a typo is a 422 now rather than a failed run later.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socstack._exceptions import NotFoundError, ParameterError, SocError
from socstack.config import Settings
from socstack.mission.loader import MissionRegistry

__all__ = ["Notebook", "NotebookParameter", "check_parameters", "find", "inspect", "library"]

NOTEBOOKS = "notebooks"
_NAME = re.compile(
    r"^(?:(?P<mission>[a-z][a-z0-9]*)/)?(?P<file>[A-Za-z0-9_][A-Za-z0-9_.-]*\.ipynb)$"
)

#: papermill's inferred type names, and the JSON values each accepts.
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


@dataclass(frozen=True)
class NotebookParameter:
    """One parameter of a notebook's ``parameters`` cell."""

    name: str
    type: str
    default: str
    help: str = ""


@dataclass(frozen=True)
class Notebook:
    """A notebook of a library, with what identifies its content."""

    name: str
    path: Path
    mission: str  # "" for the deployment's library
    origin: str  # mission, library or upload
    sha256: str
    parameters: tuple[NotebookParameter, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``GET /api/notebooks``)."""
        return {
            "name": self.name,
            "mission": self.mission or None,
            "sha256": self.sha256,
            "parameters": [p.__dict__ for p in self.parameters],
        }


def digest(path: Path) -> str:
    """The SHA-256 of a notebook file: part of a run's identity and a rule's code version."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def inspect(path: Path, *, name: str, mission: str = "", origin: str = "library") -> Notebook:
    """Read a notebook's parameters.

    Raises
    ------
    ParameterError
        The file is not a notebook papermill can read.
    """
    import papermill

    try:
        found = papermill.inspect_notebook(str(path))
    except Exception as exc:  # nbformat's and papermill's errors: not a readable notebook
        raise ParameterError(f"{name} is not a notebook papermill can read: {exc}") from exc
    parameters = tuple(
        NotebookParameter(
            name=str(p["name"]),
            type=_type_of(p),
            default=str(p.get("default")),
            help=str(p.get("help") or ""),
        )
        for p in found.values()
    )
    return Notebook(name, path, mission, origin, digest(path), parameters)


def _type_of(parameter: dict[str, Any]) -> str:
    """The parameter's declared type, else its default's (``x = 3`` takes an int)."""
    declared = str(parameter.get("inferred_type_name") or "None")
    if declared != "None":
        return declared
    try:
        value = ast.literal_eval(str(parameter.get("default")))
    except (ValueError, SyntaxError):
        return "None"
    return type(value).__name__ if type(value).__name__ in _ACCEPTS else "None"


def _folders(settings: Settings, missions: MissionRegistry) -> list[tuple[str, Path]]:
    folders = [(m.name, m.folder / NOTEBOOKS) for m in missions]
    return [*folders, ("", settings.notebook_library)]


def library(settings: Settings, missions: MissionRegistry) -> list[Notebook]:
    """Every notebook of the missions' libraries and the deployment's."""
    found = []
    for mission, folder in _folders(settings, missions):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.ipynb")):
            name = f"{mission}/{path.name}" if mission else path.name
            try:
                found.append(inspect(path, name=name, mission=mission, origin=_origin(mission)))
            except ParameterError:
                continue  # a broken file of a library is not every notebook's problem
    return found


def _origin(mission: str) -> str:
    return "mission" if mission else "library"


def find(settings: Settings, missions: MissionRegistry, name: str) -> Notebook:
    """The library notebook called ``name``.

    Raises
    ------
    NotFoundError
        No library holds it (or the name is not a notebook's), or a short name (the
        file's stem, ``interval``) that more than one library holds.
    """
    if "/" not in name and not name.endswith(".ipynb"):
        # A scientist writes "interval"; one library notebook of that stem is meant.
        named = [n for n in library(settings, missions) if Path(n.name).stem == name]
        if len(named) == 1:
            return named[0]
        if named:
            raise NotFoundError(
                f"notebook {name!r} is in more than one library: name one of "
                + ", ".join(n.name for n in named)
            )
        name += ".ipynb"
    match = _NAME.match(name)
    if match is None:
        raise NotFoundError(
            f"no notebook {name!r}: name a library notebook (<mission>/<file>.ipynb or"
            " <file>.ipynb), as GET /api/notebooks lists them"
        )
    mission = match["mission"] or ""
    if mission:
        spec = missions.missions.get(mission)
        if spec is None:
            raise NotFoundError(f"no notebook {name!r}: no mission {mission!r}")
        path = spec.folder / NOTEBOOKS / match["file"]
    else:
        path = settings.notebook_library / match["file"]
    if not path.is_file():
        raise NotFoundError(f"no notebook {name!r} in the library")
    return inspect(path, name=name, mission=mission, origin=_origin(mission))


def check_parameters(notebook: Notebook, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` if every name is a parameter of ``notebook`` with a value of its type.

    Raises
    ------
    ParameterError
        An unknown name or a value of the wrong type; it carries the notebook's
        parameters, so the answer says what the notebook takes.
    """
    known = {p.name: p for p in notebook.parameters}
    problems = []
    for key, value in given.items():
        parameter = known.get(key)
        if parameter is None:
            problems.append(f"unknown parameter {key!r}")
            continue
        accepts = _ACCEPTS.get(parameter.type)
        wrong = accepts is not None and (
            not isinstance(value, accepts) or (isinstance(value, bool) and bool not in accepts)
        )
        if wrong:
            problems.append(f"{key} must be {parameter.type}, not {type(value).__name__}")
    if problems:
        raise ParameterError(
            f"{notebook.name}: " + "; ".join(problems),
            parameters=[p.__dict__ for p in notebook.parameters],
        )
    return given


def canonical(parameters: dict[str, Any]) -> str:
    """Parameters as one string, equal for equal parameters (part of a run's identity)."""
    try:
        return json.dumps(parameters, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise SocError(f"parameters must be JSON values: {exc}") from exc
