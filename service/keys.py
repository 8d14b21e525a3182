"""The service's keys: where the secret comes from, and the keys derived from it.

Outside development (`POLKU_ENVIRONMENT`, default `production`) the secret must be set
explicitly (`POLKU_HMAC_KEY`, at least 32 characters); the server refuses to start
without it. On a developer's machine (`POLKU_ENVIRONMENT=development`, which `polku run`
and `polku serve --dev-keys` set) a random secret is created once in the state directory
(0600), and the server says so on stderr. docs/SECURITY.md says how to rotate.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from models.keys import derive_key
from models.state import state_dir
from service.settings import Settings
from service.statefiles import narrow_to_owner, open_private

KEY_FILE: Final = "audit-hmac.key"  # the name `polku effects --audit` also looks for
MIN_SECRET_CHARS: Final = 32


class KeyConfigurationError(RuntimeError):
    """The secret is missing or too short where it must be configured."""


@dataclass(frozen=True, slots=True)
class ServiceKeys:
    """The keys of each purpose, derived from one secret (`models.keys.derive_key`)."""

    pseudonym: bytes
    input_hash: bytes
    session: bytes
    audit_chain: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> ServiceKeys:
        return cls(
            pseudonym=derive_key(secret, "pseudonym"),
            input_hash=derive_key(secret, "input-hash"),
            session=derive_key(secret, "session"),
            audit_chain=derive_key(secret, "audit-chain"),
        )


def service_secret(settings: Settings) -> bytes:
    """The configured secret; in development only, the state directory's (made once)."""
    if settings.hmac_key is not None:
        value = settings.hmac_key.get_secret_value().encode()
        if len(value) < MIN_SECRET_CHARS:
            raise KeyConfigurationError(
                f"POLKU_HMAC_KEY must be at least {MIN_SECRET_CHARS} characters long"
            )
        return value
    if settings.environment != "development":
        raise KeyConfigurationError(
            "POLKU_HMAC_KEY is not set: outside development the pseudonymisation secret must "
            "be configured explicitly (see docs/SECURITY.md); on your own machine set "
            "POLKU_ENVIRONMENT=development, or use `polku run`"
        )
    path = state_dir() / KEY_FILE
    print(
        f"DEVELOPMENT: no POLKU_HMAC_KEY, using the local secret in {path} "
        "(never like this in production)",
        file=sys.stderr,
    )
    return local_secret(path)


def service_keys(settings: Settings) -> ServiceKeys:
    """The keys of the service, derived from `service_secret(settings)`."""
    return ServiceKeys.from_secret(service_secret(settings))


def local_secret(path: Path) -> bytes:
    """Read the local secret, creating it once (0600, written whole or not at all)."""
    if path.exists():
        narrow_to_owner(path)
        return path.read_bytes().strip()
    key = secrets.token_hex(32).encode()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as handle:
        handle.write(key)
    try:
        # Another process may have won the race: keep whichever key landed first.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes().strip()
