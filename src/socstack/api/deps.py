"""Dependencies shared by the API's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from socstack.api.vocabulary import Vocabulary
from socstack.ingest.service import Ingestor
from socstack.runtime import Runtime

__all__ = [
    "IngestorDep",
    "RuntimeDep",
    "VocabularyDep",
    "get_ingestor",
    "get_runtime",
    "get_vocabulary",
]


def get_runtime(request: Request) -> Runtime:
    """The runtime the app was built with."""
    return request.app.state.runtime


def get_ingestor(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Ingestor:
    """The runtime's ingestor."""
    return runtime.ingestor


def get_vocabulary(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Vocabulary:
    """What the filters may name, from the runtime's missions (built per request: cheap)."""
    return Vocabulary.of(runtime.missions)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
IngestorDep = Annotated[Ingestor, Depends(get_ingestor)]
VocabularyDep = Annotated[Vocabulary, Depends(get_vocabulary)]
