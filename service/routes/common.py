"""Error responses shared by the routes' OpenAPI descriptions."""

from __future__ import annotations

from typing import Any, Final

from service.schemas import ErrorOut, ValidationErrorOut

AUTH: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorOut, "description": "No or unknown credentials."},
    403: {"model": ErrorOut, "description": "Credentials of a role this route is not for."},
}
BODY: Final[dict[int | str, dict[str, Any]]] = {
    413: {"model": ErrorOut, "description": "Request body too large."},
    422: {
        "model": ValidationErrorOut,
        "description": "Invalid request: field paths and messages, never the values sent.",
    },
}
QUERY: Final[dict[int | str, dict[str, Any]]] = {
    422: {"model": ValidationErrorOut, "description": "Invalid query parameters."},
}
NO_MODEL: Final[dict[int | str, dict[str, Any]]] = {
    503: {
        "model": ErrorOut,
        "description": "No model is loaded yet (see Retry-After), or the audit store is down.",
    },
}
AUDIT_DOWN: Final[dict[int | str, dict[str, Any]]] = {
    503: {"model": ErrorOut, "description": "The audit store cannot record the answer."},
}
