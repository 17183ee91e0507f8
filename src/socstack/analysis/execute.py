"""Execute a notebook with papermill in a run's folder, and turn what it left into files.

This is the part of a run that needs no catalog: tests and the benchmark call it
directly. The outcome says how the kernel ended in the words a user needs (a cell's
error, a dead kernel and its signal, the timeout, the memory limit), and the executed
notebook is written even when a cell failed or the kernel died, so the user sees
where it stopped.
"""

from __future__ import annotations

import base64
import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Ending", "Execution", "execute_notebook", "figures", "to_html"]

logger = logging.getLogger(__name__)

EXECUTED = "executed.ipynb"


class Ending(enum.StrEnum):
    """How a kernel's run ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a cell raised, or the kernel died, or it ran out of memory
    TIMED_OUT = "timed_out"


@dataclass
class Execution:
    """What executing one notebook came to."""

    ending: Ending
    error: str | None
    notebook: Path | None
    cells_total: int
    cells_done: int = 0
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    #: Seconds from the kernel's end (killed by the watchdog) to papermill's return.
    detection_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _code_cells(path: Path) -> int:
    import nbformat

    return sum(1 for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


def execute_notebook(
    source: Path,
    folder: Path,
    parameters: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    timeout: float,
    memory_mb: int,
    progress: Callable[[int, int], None] | None = None,
) -> Execution:
    """Run ``source`` with ``parameters`` in ``folder``; the executed notebook stays there.

    ``progress(done, total)`` is called after each code cell (total counts the
    parameters cell papermill injects).
    """
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    # The kernel's watchdog needs psutil and jupyter_client (the analysis extra): imported
    # here, so the web images (api, hapi, migrate) import run submission without them.
    from socstack.analysis.kernel import KernelWatch, kernel_manager_class

    folder.mkdir(parents=True, exist_ok=True)
    output = folder / EXECUTED
    total = _code_cells(source) + (1 if parameters else 0)
    started = time.monotonic()
    watch = KernelWatch(deadline=started + timeout, memory_bytes=memory_mb * 2**20)
    done = 0

    def cell_complete(cell: Any, cell_index: int) -> None:
        nonlocal done
        if cell.get("cell_type") != "code":
            return
        done += 1
        if progress is not None:
            try:
                progress(done, total)
            except Exception:  # progress is for the user's eyes: never the run's end
                logger.exception("run progress could not be recorded")

    result = Execution(Ending.SUCCEEDED, None, output, total)
    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters=dict(parameters),
            cwd=str(folder),
            kernel_name="python3",
            language="python",
            progress_bar=False,
            log_output=False,
            kernel_manager_class=kernel_manager_class(env, watch),
            on_cell_complete=cell_complete,
            start_timeout=60,
        )
    except PapermillExecutionError as exc:
        result.ending, result.error = Ending.FAILED, f"{exc.ename}: {exc.evalue}"
    except DeadKernelError:
        result.ending, result.error = Ending.FAILED, watch.exit_status()
    except Exception as exc:  # papermill's own errors (a bad notebook, a kernel not starting)
        result.ending, result.error = Ending.FAILED, f"{type(exc).__name__}: {exc}"
    finally:
        watch.stop()
    if watch.ended_by is not None:
        result.ending = Ending.TIMED_OUT if watch.ended_by == "timed_out" else Ending.FAILED
        result.error = (
            f"timed out after {timeout:g} s" if watch.ended_by == "timed_out" else watch.detail
        )
        if watch.ended_at is not None:
            result.detection_seconds = time.monotonic() - watch.ended_at
    result.cells_done = done
    result.seconds = time.monotonic() - started
    result.peak_memory_mb = watch.peak_bytes / 2**20
    if not output.is_file():
        result.notebook = None
    return result


def to_html(notebook: Path, target: Path) -> Path:
    """The executed notebook as one self-contained HTML page."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    target.write_text(body, encoding="utf-8")
    return target


def figures(notebook: Path, folder: Path) -> list[Path]:
    """Every PNG the notebook's outputs hold, as files ``figure-<cell>-<n>.png``."""
    import nbformat

    found = []
    nb = nbformat.read(notebook, as_version=4)
    for index, cell in enumerate(nb.cells):
        for n, out in enumerate(cell.get("outputs", [])):
            data = out.get("data", {}) if isinstance(out, Mapping) else {}
            png = data.get("image/png")
            if not png:
                continue
            path = folder / f"figure-{index:03d}-{n}.png"
            path.write_bytes(base64.b64decode(png if isinstance(png, str) else "".join(png)))
            found.append(path)
    return found
