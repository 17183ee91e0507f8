"""Mission configuration: products, file-name patterns, HAPI datasets, rules, release policy."""

from socstack.mission.code import load_callable
from socstack.mission.loader import MissionRegistry, load_mission, load_missions
from socstack.mission.model import Dataset, Mission, Parameter, Product, Rule
from socstack.mission.patterns import FileName
from socstack.mission.versions import Version

__all__ = [
    "Dataset",
    "FileName",
    "Mission",
    "MissionRegistry",
    "Parameter",
    "Product",
    "Rule",
    "Version",
    "load_callable",
    "load_mission",
    "load_missions",
]
