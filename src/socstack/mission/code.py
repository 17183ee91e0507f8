"""Import a mission's own code (``module:function`` entry points) from its folder.

Missions are folders of configuration plus their processing functions; the core finds
those functions by the entry points the YAML names, never by instrument names in code.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any

from socstack._exceptions import ConfigError
from socstack.mission.loader import MISSION_FILE
from socstack.mission.model import Mission

__all__ = ["load_callable"]

_lock = threading.Lock()


def load_callable(mission: Mission, entry_point: str, *, field: str) -> Callable[..., Any]:
    """Import ``module:function`` with the mission's code folder on the import path.

    Mission packages share one interpreter, so each mission must give its code a
    package name of its own (the demo uses ``demo_mission``).
    """
    module_name, _, attr = entry_point.partition(":")
    code_dir = str(mission.code_dir)
    with _lock:
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
    source = str(mission.folder / MISSION_FILE)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import {module_name!r}: {exc}", source=source, field=field
        ) from exc
    target = getattr(module, attr, None)
    if not callable(target):
        raise ConfigError(f"{entry_point!r} is not a function", source=source, field=field)
    return target
