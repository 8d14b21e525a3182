"""Caseworkers' sessions on the page: a signed cookie, sign-in with the API's keys, CSRF.

The cookie holds only the caseworker's key label, their role, a CSRF token and the page
language, signed (itsdangerous) with a key derived from the service's HMAC key. It never
holds the access key itself nor anything about a client. Every form post carries the
session's CSRF token; a post without the right token is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Any, Final

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from models.languages import LANGUAGES
from service.auth import KeyRing, Principal
from service.settings import Settings

COOKIE_NAME: Final = "polku_session"
SESSION_MAX_AGE_SECONDS: Final = 8 * 60 * 60  # one working day
_SALT: Final = "polku-page-session"


@dataclass(frozen=True, slots=True)
class PageSession:
    """What the page remembers between requests (all of it harmless if read).

    Attributes
    ----------
    csrf : str
        The token every form post must carry.
    lang : str
        The page language.
    label : str or None
        The signed-in caseworker's key label (None before sign-in).
    role : str or None
        Their role (only caseworkers may use the page).
    """

    csrf: str
    lang: str
    label: str | None = None
    role: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.label is not None

    def with_lang(self, lang: str) -> PageSession:
        return replace(self, lang=lang)


def new_session(lang: str) -> PageSession:
    """An anonymous session with a fresh CSRF token."""
    return PageSession(csrf=secrets.token_urlsafe(32), lang=lang)


def signed_in(session: PageSession, principal: Principal) -> PageSession:
    """The session after signing in: a new CSRF token (no fixation of the old one)."""
    return PageSession(
        csrf=secrets.token_urlsafe(32),
        lang=session.lang,
        label=principal.label,
        role=principal.role,
    )


def page_secret(request: Request) -> bytes:
    """The service's secret (settings or state dir), read once per app.

    The page derives keys of its own from it (HMAC with a label), so a page cookie can never
    double as a client key or an input hash.
    """
    state = request.app.state
    secret: bytes | None = getattr(state, "page_secret", None)
    if secret is None:
        settings: Settings = state.settings
        secret = settings.resolved_hmac_key()
        state.page_secret = secret
    return secret


def _serializer(request: Request) -> URLSafeTimedSerializer:
    key = hmac.new(page_secret(request), b"polku-page-session-key", hashlib.sha256).hexdigest()
    return URLSafeTimedSerializer(key, salt=_SALT)


def read_session(request: Request, default_lang: str) -> PageSession | None:
    """The request's session, or None when the cookie is missing, forged, old or revoked."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return None
    try:
        data: Any = _serializer(request).loads(raw, max_age=SESSION_MAX_AGE_SECONDS)
    except BadSignature:  # also covers expired signatures
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return None
    label, role, lang = data.get("label"), data.get("role"), data.get("lang")
    session = PageSession(
        csrf=data["csrf"],
        lang=lang if lang in LANGUAGES else default_lang,
        label=label if isinstance(label, str) else None,
        role=role if isinstance(role, str) else None,
    )
    if session.signed_in and not _still_caseworker(request, session):
        return None
    return session


def _still_caseworker(request: Request, session: PageSession) -> bool:
    """A session outlives a restart; a key removed from the settings must end it."""
    settings: Settings = request.app.state.settings
    return session.role == "caseworker" and session.label in settings.api_keys()["caseworker"]


def write_session(request: Request, response: Response, session: PageSession) -> None:
    """Set the signed session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS)."""
    payload: dict[str, str] = {"csrf": session.csrf, "lang": session.lang}
    if session.label is not None and session.role is not None:
        payload |= {"label": session.label, "role": session.role}
    response.set_cookie(
        COOKIE_NAME,
        _serializer(request).dumps(payload),
        max_age=SESSION_MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_session(response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")


def csrf_ok(session: PageSession | None, submitted: object) -> bool:
    """Whether a form post carries the session's CSRF token."""
    if session is None or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(session.csrf.encode(), submitted.encode())


def identify(request: Request, key: str) -> Principal | None:
    """Who holds `key`, by the same key ring as the API."""
    keyring: KeyRing = request.app.state.keyring
    return keyring.identify(key) if key else None
