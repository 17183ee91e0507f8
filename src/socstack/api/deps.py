"""Dependencies shared by the API's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from socstack.ingest.service import Ingestor
from socstack.runtime import Runtime

__all__ = ["IngestorDep", "RuntimeDep", "get_ingestor", "get_runtime"]


def get_runtime(request: Request) -> Runtime:
    """The runtime the app was built with."""
    return request.app.state.runtime


def get_ingestor(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Ingestor:
    """The runtime's ingestor."""
    return runtime.ingestor


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
IngestorDep = Annotated[Ingestor, Depends(get_ingestor)]
