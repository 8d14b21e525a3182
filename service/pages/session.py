"""Caseworkers' sessions on the page: a signed cookie, a server-side record, sign-in, CSRF.

The cookie holds a CSRF token, the page language and, once signed in, a random session id,
signed (itsdangerous) with a key derived from the service's session key. Who is signed in is
kept server-side (`service.sessions.SessionStore`), so sign-out, a rotated or removed key,
the idle timeout and the absolute timeout end a session at once, whatever a saved cookie
says. The cookie never holds the access key nor anything about a client. Every form post
carries the session's CSRF token; a post without the right token is refused.
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
from service.keys import ServiceKeys
from service.sessions import SessionStore
from service.settings import Settings

COOKIE_NAME: Final = "polku_session"
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
        The signed-in caseworker's key label (None before sign-in), from the session record.
    role : str or None
        Their role (only caseworkers may use the page).
    sid : str or None
        The id of the server-side session record (None before sign-in).
    """

    csrf: str
    lang: str
    label: str | None = None
    role: str | None = None
    sid: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.label is not None

    def with_lang(self, lang: str) -> PageSession:
        return replace(self, lang=lang)


def new_session(lang: str) -> PageSession:
    """An anonymous session with a fresh CSRF token."""
    return PageSession(csrf=secrets.token_urlsafe(32), lang=lang)


def signed_in(request: Request, session: PageSession, principal: Principal) -> PageSession:
    """The session after signing in: a new record, a new CSRF token (no fixation)."""
    sid = _store(request).begin(principal.label, principal.role, _fingerprint(request, principal))
    return PageSession(
        csrf=secrets.token_urlsafe(32),
        lang=session.lang,
        label=principal.label,
        role=principal.role,
        sid=sid,
    )


def end_session(request: Request, session: PageSession | None) -> None:
    """End the session's record (sign-out): a saved copy of the cookie is no session."""
    if session is not None and session.sid is not None:
        _store(request).end(session.sid)


def page_secret(request: Request) -> bytes:
    """The page's own key (`ServiceKeys.session`, derived for sessions only).

    The page derives keys of its own from it (HMAC with a label): a cookie signature, the
    answer cookie's encryption, a key fingerprint.
    """
    keys: ServiceKeys = request.app.state.keys
    return keys.session


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def _derived(request: Request, label: bytes) -> bytes:
    return hmac.new(page_secret(request), label, hashlib.sha256).digest()


def _fingerprint(request: Request, principal: Principal) -> str:
    """A keyed fingerprint of the key `principal` holds now ("" once it is removed)."""
    keyring: KeyRing = request.app.state.keyring
    digest = keyring.digest_of(principal)
    if digest is None:
        return ""
    return hmac.new(
        _derived(request, b"polku-session-key-fingerprint"), digest, "sha256"
    ).hexdigest()


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_derived(request, b"polku-page-session-key").hex(), salt=_SALT)


def _max_age_seconds(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return int(settings.session_max_hours * 3600)


def read_session(request: Request, default_lang: str) -> PageSession | None:
    """The request's session, or None when the cookie is missing, forged or old, or its
    record has ended (signed out, idle, too old, or the caseworker's key changed)."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return None
    try:
        data: Any = _serializer(request).loads(raw, max_age=_max_age_seconds(request))
    except BadSignature:  # also covers expired signatures
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return None
    lang = data.get("lang")
    session = PageSession(csrf=data["csrf"], lang=lang if lang in LANGUAGES else default_lang)
    sid = data.get("sid")
    if sid is None:
        return session
    if not isinstance(sid, str):
        return None
    record = _store(request).lookup(sid)
    if record is None or record.role != "caseworker":
        return None
    principal = Principal(role="caseworker", label=record.label)
    if not hmac.compare_digest(record.key_fingerprint, _fingerprint(request, principal)):
        _store(request).end(sid)  # the key was rotated or removed: the session ends for good
        return None
    return replace(session, label=record.label, role=record.role, sid=sid)


def write_session(request: Request, response: Response, session: PageSession) -> None:
    """Set the signed session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS)."""
    payload: dict[str, str] = {"csrf": session.csrf, "lang": session.lang}
    if session.sid is not None:
        payload["sid"] = session.sid
    response.set_cookie(
        COOKIE_NAME,
        _serializer(request).dumps(payload),
        max_age=_max_age_seconds(request),
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
