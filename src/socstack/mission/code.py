"""Import a mission's own code (``module:function`` entry points) from its folder.

Missions are folders of configuration plus their processing functions; the core finds
those functions by the entry points the YAML names, never by instrument names in code.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from socstack._exceptions import ConfigError
from socstack.mission.loader import MISSION_FILE
from socstack.mission.model import Mission

__all__ = ["load_callable"]

_lock = threading.Lock()


def import_entry_point(code_dir: Path, entry_point: str) -> Any:
    """Import ``module:name`` with ``code_dir`` on the import path; the object it names.

    Raises ``ImportError`` or ``AttributeError`` (the loader reports them with the field).
    """
    module_name, _, attr = entry_point.partition(":")
    with _lock:
        if str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise AttributeError(f"module {module_name!r} has no {attr!r}") from None


def load_callable(mission: Mission, entry_point: str, *, field: str) -> Callable[..., Any]:
    """Import ``module:function`` with the mission's code folder on the import path.

    Mission packages share one interpreter, so each mission must give its code a
    package name of its own (the demo uses ``demo_mission``).
    """
    source = str(mission.folder / MISSION_FILE)
    path = tuple(int(p) if p.isdigit() else p for p in field.split("."))
    line = mission.lines.get(path)
    try:
        target = import_entry_point(mission.code_dir, entry_point)
    except ImportError as exc:
        module_name = entry_point.partition(":")[0]
        raise ConfigError(
            f"cannot import {module_name!r}: {exc}", source=source, field=field, line=line
        ) from exc
    except AttributeError:
        target = None
    if not callable(target):
        raise ConfigError(
            f"{entry_point!r} is not a function", source=source, field=field, line=line
        )
    return target
