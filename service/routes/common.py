"""What the routes share: the edge check of a profile, and error responses for OpenAPI."""

from __future__ import annotations

from typing import Any, Final

from service.schemas import ErrorOut, ProfileIn, ValidationErrorOut
from service.suggest import CheckedProfile

AUTH: Final[dict[int | str, dict[str, Any]]] = {
    401: {
        "model": ErrorOut,
        "description": "No credentials, or a key that is not of this route's roles (unknown "
        "keys and keys of other roles get the same answer).",
    },
    429: {
        "model": ErrorOut,
        "description": "Too many requests from this key or address, or too many wrong keys "
        "from this address: wait the seconds of Retry-After.",
    },
}
BODY: Final[dict[int | str, dict[str, Any]]] = {
    413: {"model": ErrorOut, "description": "Request body too large."},
    422: {
        "model": ValidationErrorOut,
        "description": "Invalid request: field paths and messages, never the values sent. A "
        "body that is not JSON in UTF-8 is one entry at `body` of type `json_invalid` "
        "(answered after the key is checked).",
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


def checked_profile(profile: ProfileIn) -> CheckedProfile:
    """The request's profile as `ProfileIn` checked it (with the gate's validator, once).

    `sent` (JSON values, the identity code if given) only feeds the audit's keyed client key
    and input hash.
    """
    return CheckedProfile(profile.to_profile(), profile.model_dump(mode="json", exclude_none=True))
