"""Who is calling: API keys or bearer tokens, each belonging to one role, and how often.

401 without credentials, and the same 401 for every key that is not one of the route's
roles, unknown or of another role alike: the answer never tells that a key is valid. Keys
are compared by their SHA-256 digests, so a lookup neither keeps nor leaks the keys.

Rate limits (`AccessLimits`, 429 with `Retry-After`): wrong keys per client address (past
the limit every request from that address waits, so keys cannot be guessed at speed), and
requests per key and per client address.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.ratelimit import RateLimiter, too_many_requests
from service.settings import Role, Settings

WRONG_KEY: Final = "unknown credentials"

_bearer = HTTPBearer(
    auto_error=False,
    description="A bearer token of a role (caseworker, data_scientist, evaluator, team_lead).",
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
        self._digest_of: dict[Principal, bytes] = {}
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
                self._digest_of[Principal(role=role, label=label)] = digest

    def __len__(self) -> int:
        return len(self._by_digest)

    def identify(self, key: str) -> Principal | None:
        """The principal holding `key`, or None."""
        return self._by_digest.get(_digest(key))

    def digest_of(self, principal: Principal) -> bytes | None:
        """The digest of the key `principal` holds now (None once their key is removed)."""
        return self._digest_of.get(principal)


@dataclass(frozen=True, slots=True)
class AccessLimits:
    """The rate limits of one app (see `Settings`): per key, per client address, sign-in."""

    requests: RateLimiter
    wrong_keys: RateLimiter
    signins: RateLimiter

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> AccessLimits:
        return cls(
            requests=RateLimiter(settings.api_requests_per_minute, clock),
            wrong_keys=RateLimiter(settings.auth_failures_per_minute, clock),
            signins=RateLimiter(settings.signin_attempts_per_minute, clock),
        )


def client_address(request: Request) -> str:
    """The address the request came from (behind a proxy: run uvicorn with the proxy's
    forwarded headers trusted, so that this is the client's)."""
    return request.client.host if request.client is not None else "unknown"


def key_digest(key: str) -> str:
    """A stable name of a presented key for rate limits (its SHA-256, never the key)."""
    return _digest(key).hex()


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
) -> Principal | None:
    """The caller, from `Authorization: Bearer ...` or `X-API-Key` (None: an unknown key).

    401 without credentials; 429 while the client address has tried too many wrong keys.
    """
    # async on purpose: a plain def dependency hops to the threadpool on every request.
    limits: AccessLimits = request.app.state.limits
    wait = limits.wrong_keys.wait_seconds(client_address(request))
    if wait:
        raise too_many_requests(wait)
    presented = bearer.credentials if bearer is not None else api_key
    if not presented:
        raise _unauthorized("credentials required: a bearer token or an X-API-Key header")
    keyring: KeyRing = request.app.state.keyring
    return keyring.identify(presented)


def require_role(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only callers of `roles`, within the rate limits.

    A key of any other role is answered exactly like an unknown key (401), and counts as a
    wrong key of the client address.
    """

    async def dependency(
        request: Request, principal: Annotated[Principal | None, Security(authenticate)]
    ) -> Principal:
        limits: AccessLimits = request.app.state.limits
        address = client_address(request)
        if principal is None or principal.role not in roles:
            limits.wrong_keys.take(address)
            raise _unauthorized(WRONG_KEY)
        by_key, by_address = f"key:{principal.role}:{principal.label}", f"address:{address}"
        wait = max(limits.requests.wait_seconds(by_key), limits.requests.wait_seconds(by_address))
        if wait:
            raise too_many_requests(wait)
        limits.requests.take(by_key)
        limits.requests.take(by_address)
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency
