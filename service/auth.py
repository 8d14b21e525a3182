"""Who is calling: API keys or bearer tokens, each belonging to one role.

401 without (valid) credentials, 403 with credentials of another role. Keys are compared
by their SHA-256 digests, so a lookup neither keeps nor leaks the keys themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.settings import Role

_bearer = HTTPBearer(
    auto_error=False,
    description="A bearer token of a role (caseworker, data_scientist, evaluator).",
)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key of a role.")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: their role and the label of the key they used."""

    role: Role
    label: str


class KeyRing:
    """The configured keys, looked up by digest.

    Parameters
    ----------
    keys : role -> label -> key (the shape of `Settings.api_keys()`).
    """

    def __init__(self, keys: Mapping[Role, Mapping[str, str]]) -> None:
        self._by_digest: dict[bytes, Principal] = {}
        for role, labelled in keys.items():
            for label, key in labelled.items():
                if not key:
                    raise ValueError(f"the {role} key {label!r} is empty")
                digest = _digest(key)
                if digest in self._by_digest:
                    raise ValueError(
                        f"the {role} key {label!r} is also configured for another role or label"
                    )
                self._by_digest[digest] = Principal(role=role, label=label)

    def __len__(self) -> int:
        return len(self._by_digest)

    def identify(self, key: str) -> Principal | None:
        """The principal holding `key`, or None."""
        return self._by_digest.get(_digest(key))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    """The caller, from `Authorization: Bearer ...` or `X-API-Key`; 401 otherwise."""
    # async on purpose: a plain def dependency hops to the threadpool on every request.
    presented = bearer.credentials if bearer is not None else api_key
    if not presented:
        raise _unauthorized("credentials required: a bearer token or an X-API-Key header")
    keyring: KeyRing = request.app.state.keyring
    principal = keyring.identify(presented)
    if principal is None:
        raise _unauthorized("unknown credentials")
    return principal


def require_role(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only callers of `roles` (403 for any other role)."""

    async def dependency(principal: Annotated[Principal, Security(authenticate)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"this route is for the role(s): {', '.join(roles)}",
            )
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency
