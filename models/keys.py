"""One secret, separate keys: HKDF (RFC 5869) with a purpose label per use.

The service is configured with one secret (`POLKU_HMAC_KEY`). Each use gets its own key
derived from it, so that no value made for one purpose can be replayed for another (a page
cookie cannot double as a client pseudonym, an input hash cannot help forge a session), and
a leak of one derived key reveals neither the secret nor the others. Everything that
recomputes a pseudonym (the service, `polku effects --audit`) derives it here.

Examples
--------
>>> a = derive_key(b"a secret of some length", "pseudonym")
>>> b = derive_key(b"a secret of some length", "input-hash")
>>> len(a), a == b
(32, False)
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

Purpose = Literal["pseudonym", "input-hash", "session", "audit-chain"]
PURPOSES: Final[tuple[Purpose, ...]] = get_args(Purpose)
_SALT: Final = b"polku-key-derivation-v1"


def derive_key(secret: bytes, purpose: Purpose) -> bytes:
    """The 32-byte key of `purpose` derived from `secret` (HKDF-SHA256)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}")
    if not secret:
        raise ValueError("derive_key needs a non-empty secret")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"polku/" + purpose.encode())
    return hkdf.derive(secret)
