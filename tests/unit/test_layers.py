"""Lower layers never import the services above them.

The mission model, the formats, the catalog, the archive, ingest and the pipeline are
the ground the services stand on; the viz is a HAPI client. None of them may import the
HAPI server's package (ISO 8601 times live in ``socstack.times`` for all of them).
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent.parent / "src" / "socstack"
BELOW_HAPI = ["mission", "formats", "catalog", "archive", "ingest", "pipeline", "viz", "times.py"]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("layer", BELOW_HAPI)
def test_no_lower_layer_imports_the_hapi_server(layer: str) -> None:
    root = SRC / layer
    files = [root] if root.is_file() else sorted(root.rglob("*.py"))
    assert files
    offenders = {
        str(f.relative_to(SRC)): sorted(
            i for i in _imports(f) if i == "socstack.hapi" or i.startswith("socstack.hapi.")
        )
        for f in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}
