"""``/api``: what this API offers, with links, for a person or a client finding its way."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from socstack import __version__

router = APIRouter(tags=["index"])

#: Where the interactive docs, their assets and the OpenAPI document are served.
DOCS_URL = "/api/docs"
DOCS_ASSETS_URL = "/api/docs/static"
OPENAPI_URL = "/api/openapi.json"
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class Resource(BaseModel):
    """One path of the API and what each of its methods does."""

    path: str
    methods: dict[str, str] = Field(description="Method to its summary.")


class ApiIndex(BaseModel):
    """The API's entry point."""

    title: str
    version: str
    links: dict[str, str] = Field(
        description="The interactive docs, the OpenAPI document and the services beside the API."
    )
    resources: list[Resource]


@router.get("", response_model=ApiIndex, summary="What this API offers")
def index(request: Request) -> ApiIndex:
    """Links to the docs, the OpenAPI document and every resource of the API.

    The resources are read from the app's OpenAPI document (what ``/api/docs`` shows),
    so the index cannot fall behind the API it describes.
    """
    app = request.app
    root = request.scope.get("root_path", "")
    resources = []
    for path, item in app.openapi()["paths"].items():
        methods = {
            method.upper(): operation.get("summary", "")
            for method, operation in item.items()
            if method in _METHODS
        }
        if path != "/api" and methods:
            resources.append(Resource(path=root + path, methods=methods))
    links = {
        "docs": root + DOCS_URL,
        "openapi": root + OPENAPI_URL,
        "metrics": f"{root}/metrics",
        "hapi": f"{root}/hapi",
    }
    return ApiIndex(
        title=app.title,
        version=__version__,
        links=links,
        resources=resources,
    )
