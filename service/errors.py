"""Error answers that never echo what was submitted, a request body limit, and log scrubbing.

FastAPI's own 422 answer repeats each bad input value; a profile may carry a personal
identity code, so here a 422 names the field and what is wrong with it, never the value.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final
from urllib.parse import unquote_plus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.henkilotunnus import redact_henkilotunnus
from models.profile_validation import ERROR_CODES, ProfileValidationError
from service.audit import AuditUnavailableError
from service.request_id import INTERNAL_ERROR, request_id_of
from service.suggest import (
    DecisionForbiddenError,
    DecisionRejectedError,
    NoModelError,
    UnknownRequestError,
)

log = logging.getLogger(__name__)

_SAFE_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
REDACTED: Final = "[redacted]"
# A Python repr of a string, in single or double quotes (how the gate quotes bad values).
_QUOTED: Final = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def redact(text: str) -> str:
    """`text` with anything shaped like a personal identity code replaced, disguised or
    percent-encoded ones too (a request line in the access log: `131052%2D308T`, or
    `?q=131052+-308T`, a space before the sign as a query string writes it)."""
    cleaned = redact_henkilotunnus(text, REDACTED)
    if "%" not in cleaned and "+" not in cleaned:  # "+" is a space in a query string
        return cleaned
    decoded = cleaned
    for _ in range(3):  # %252D is %2D once decoded
        decoded = unquote_plus(decoded)
        if "%" not in decoded:
            break
    if redact_henkilotunnus(decoded, REDACTED) == decoded:
        return cleaned
    return redact_henkilotunnus(decoded, REDACTED)


def field_error(loc: Sequence[str | int], msg: str, type_: str) -> dict[str, Any]:
    """One entry of a 422 answer: where, what is wrong, and the kind of error."""
    return {"loc": [_safe_loc_part(part) for part in loc], "msg": redact(msg), "type": type_}


def validation_error_response(errors: Iterable[dict[str, Any]]) -> JSONResponse:
    """The 422 answer for a list of `field_error` entries."""
    return JSONResponse(status_code=422, content={"detail": list(errors)})


def _safe_loc_part(part: str | int) -> str | int:
    # Keys of unknown fields come from the client: keep them only if they look like names.
    if isinstance(part, int) or _SAFE_NAME.match(part):
        return part
    return "<field>"


async def _request_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    unreadable = request.scope.get("state", {}).get(UNREADABLE_BODY)
    if unreadable is not None:  # `UnreadableBodyMiddleware` held it back until now
        return validation_error_response([field_error(("body",), unreadable, "json_invalid")])
    errors = []
    for error in exc.errors():
        kind = str(error.get("type", "value_error"))
        msg = "unknown field" if kind == "extra_forbidden" else str(error.get("msg", "invalid"))
        if kind in ERROR_CODES:  # the profile's own checks (ProfileIn) quote bad values
            msg = without_values(msg)
        errors.append(field_error(tuple(error.get("loc", ())), msg, kind))
    return validation_error_response(errors)


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    # A backstop: `RequestIdMiddleware` answers unhandled errors of the routes; this one
    # catches what fails in a middleware outside it. Type and place only, never the message.
    request_id = request_id_of(request.scope)
    log.error(
        "unhandled %s in %s %s (request_id=%s)",
        type(exc).__name__,
        request.method,
        request.url.path,
        request_id,
    )
    return JSONResponse(
        status_code=500,
        content={"detail": INTERNAL_ERROR, "request_id": request_id},
        headers={"X-Request-ID": request_id} if request_id else None,
    )


def without_values(message: str) -> str:
    """`message` with every quoted value replaced (the gate's messages quote bad values)."""
    return _QUOTED.sub("(value not shown)", message)


async def _profile_invalid_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProfileValidationError)
    return validation_error_response(
        field_error(("body", "profile", e.field), without_values(e.message), e.code)
        for e in exc.errors
    )


async def _decision_rejected_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DecisionRejectedError)
    return validation_error_response(
        [field_error(("body", exc.field), exc.message, "decision_rejected")]
    )


async def _decision_forbidden_handler(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=403,
        content={"detail": "only the caseworker who asked for this suggestion decides on it"},
    )


async def _unknown_request_handler(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": "no answered request has this id"})


async def _no_model_handler(request: Request, exc: Exception) -> JSONResponse:
    retry_after = getattr(request.app.state.settings, "retry_after_seconds", 30)
    return JSONResponse(
        status_code=503,
        content={"detail": redact(f"no model is loaded, so no recommendation can be made: {exc}")},
        headers={"Retry-After": str(retry_after)},
    )


async def _audit_down_handler(request: Request, exc: Exception) -> JSONResponse:
    # Without its audit record an answer must not leave: refuse it instead.
    log.error("audit store unavailable for %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=503,
        content={"detail": "the audit store cannot record this request; try again shortly"},
        headers={"Retry-After": "5"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Replace FastAPI's 422 handler, map the service's errors, hide unexpected ones."""
    app.add_exception_handler(RequestValidationError, _request_validation_handler)
    app.add_exception_handler(ProfileValidationError, _profile_invalid_handler)
    app.add_exception_handler(DecisionRejectedError, _decision_rejected_handler)
    app.add_exception_handler(DecisionForbiddenError, _decision_forbidden_handler)
    app.add_exception_handler(UnknownRequestError, _unknown_request_handler)
    app.add_exception_handler(NoModelError, _no_model_handler)
    app.add_exception_handler(AuditUnavailableError, _audit_down_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


UNREADABLE_BODY: Final = "unreadable_body"
NOT_UTF8: Final = "the request body is not valid UTF-8 (send JSON encoded as UTF-8)"
NOT_JSON: Final = "the request body is not valid JSON"
_JSON_TYPE: Final = re.compile(rb"^application/(?:[\w.+-]*\+)?json\s*(?:;|$)", re.IGNORECASE)


def body_problem(body: bytes) -> str | None:
    """Why a JSON request body cannot be read, or None if it can."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_UTF8
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # nested too deeply for the decoder
        return NOT_JSON
    return None


class UnreadableBodyMiddleware:
    """Answer a JSON body that is not UTF-8 JSON only after the caller is authenticated.

    FastAPI decodes the body before it runs a route's dependencies, so such a body was
    answered (400, or 422) before the role check, to anyone. Here it is read first; if it
    cannot be decoded the route gets an empty body instead, the role check runs as usual,
    and the required body's 422 becomes one entry saying what is wrong with it
    (`_request_validation_handler`). Every route with a JSON body requires it (tested).
    Inside `BodyLimitMiddleware`, so only bodies within the limit are held.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _sends_json(scope):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        body = bytearray()
        while True:
            message = await receive()
            held.append(message)
            if message["type"] != "http.request":
                break  # the client went away
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        whole = held[-1]["type"] == "http.request"  # else the client went away mid-body
        problem = body_problem(bytes(body)) if body and whole else None
        if problem is not None:
            scope.setdefault("state", {})[UNREADABLE_BODY] = problem
            held = [{"type": "http.request", "body": b"", "more_body": False}]

        async def replay() -> Message:
            return held.pop(0) if held else await receive()

        await self.app(scope, replay, send)


def _sends_json(scope: Scope) -> bool:
    """A request whose body is meant as JSON. No content type counts too: FastAPI reads
    such a body as raw bytes and answers 422 after the role check, this says why."""
    if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return False
    content_type = next((v for k, v in scope["headers"] if k == b"content-type"), None)
    return content_type is None or _JSON_TYPE.match(content_type) is not None


class BodyLimitMiddleware:
    """Refuse request bodies over `max_bytes` with 413, declared or streamed.

    A plain ASGI middleware (no per-request task or copy) so it costs next to nothing.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, {"detail": "invalid Content-Length"})
                    return
                if declared > self.max_bytes:
                    await _send_json(send, 413, self._too_large())
                    return
        received = 0
        answered = False  # we sent the 413 ourselves; drop whatever the app sends after

        async def limited_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    answered = True
                    await _send_json(send, 413, self._too_large())
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    def _too_large(self) -> dict[str, str]:
        return {"detail": f"request body larger than {self.max_bytes} bytes"}


async def _send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RedactingFilter(logging.Filter):
    """A logging filter that removes anything shaped like a personal identity code."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            if isinstance(record.args, tuple):
                # Keep the arguments' shape: formatters such as uvicorn's access log unpack them.
                record.msg = redact(str(record.msg))
                record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            if redact(record.getMessage()) != record.getMessage():
                record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatted here so the traceback's messages are redacted too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(
    logger_names: Iterable[str] = (
        "",
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "polku.access",
        "fastapi",
        "service",
    ),
) -> None:
    """Attach `RedactingFilter` to the named loggers and their handlers (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        targets: list[logging.Filterer] = [logger, *logger.handlers]
        for target in targets:
            if not any(isinstance(f, RedactingFilter) for f in target.filters):
                target.addFilter(RedactingFilter())
