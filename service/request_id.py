"""`X-Request-ID` on every answer, the access line that carries it, and the last-resort 500.

The caller's own id is kept when it is a plain token that does not look like an identity
code, else a new one is made. 401, 413,
422, 429, 500 and 503 answers carry it too, so a caller's log line can be matched with the
server's access line and audit row. A plain ASGI middleware (no per-request task),
outermost of the app's own, so it sees every answer's final status.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import uuid
from contextvars import ContextVar
from typing import Final

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.henkilotunnus import contains_henkilotunnus
from service.access_log import access_enabled, log_access

HEADER: Final = b"x-request-id"
# Only what cannot carry anything else: no spaces, no codes' signs, bounded length.
_ACCEPTED: Final = re.compile(rb"[A-Za-z0-9_]{8,64}")
INTERNAL_ERROR: Final = "internal error"
TIMED_OUT: Final = "timed_out"  # set by `service.http_timeouts` when it closed the request

log = logging.getLogger(__name__)


def new_request_id() -> str:
    """A fresh id: 32 hex digits that do not look like an identity code.

    About one random hex id in eight holds six digits, a letter a-f, three digits and one
    more character, which the log redaction would scrub (and so break the join of a log
    line with its answer); such ids are drawn again.
    """
    while True:
        candidate = uuid.uuid4().hex
        if not contains_henkilotunnus(candidate):
            return candidate


# The audit records a request wrote or decided on, for its access line: a list shared by
# every copy of the context, so an id noted in a worker thread reaches the line too.
_AUDIT_IDS: ContextVar[list[str] | None] = ContextVar("polku_audit_ids", default=None)


def note_audit_id(audit_id: str) -> None:
    """Put `audit_id` (an audit record's request id) on this request's access line."""
    noted = _AUDIT_IDS.get()
    if noted is not None:
        noted.append(audit_id)


def new_audit_id() -> str:
    """A fresh id for an audit record (`new_request_id`), noted on the access line, so a log
    line joins its audit row."""
    audit_id = new_request_id()
    note_audit_id(audit_id)
    return audit_id


def request_id_of(scope: Scope) -> str:
    """The request id `RequestIdMiddleware` gave this request ("" outside it)."""
    return str(scope.get("state", {}).get("request_id", ""))


def internal_error_body(request_id: str) -> bytes:
    """The body of a 500: the request id to quote, nothing about the cause."""
    return json.dumps({"detail": INTERNAL_ERROR, "request_id": request_id}).encode()


class RequestIdMiddleware:
    """Answer every HTTP request with `X-Request-ID` (kept in `scope["state"]`), write its
    access line, and turn an exception nothing handled into a 500 that names the id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        given = next((v for k, v in scope["headers"] if k == HEADER), b"")
        accepted = _ACCEPTED.fullmatch(given) and not contains_henkilotunnus(given.decode())
        request_id = given if accepted else new_request_id().encode()
        text_id = request_id.decode()
        scope.setdefault("state", {})["request_id"] = text_id
        status = 0
        audit_ids: list[str] = []
        noting = _AUDIT_IDS.set(audit_ids)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id)]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            pass  # the client went away mid-request: nobody to answer, nothing went wrong
        except Exception as exc:
            _log_unhandled(exc, scope, text_id)
            if status == 0:  # nothing sent yet: the caller gets a 500 it can quote
                body = internal_error_body(text_id)
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
            # else the answer was cut short; the server closes the connection
        finally:
            _AUDIT_IDS.reset(noting)
            if access_enabled():
                log_access(
                    client=scope.get("client"),
                    method=scope["method"],
                    target=_target(scope),
                    http_version=scope["http_version"],
                    status=408 if scope["state"].get(TIMED_OUT) else status,
                    milliseconds=1000 * (time.perf_counter() - started_at),
                    request_id=text_id,
                    audit_ids=audit_ids,
                )


def _target(scope: Scope) -> str:
    """The path and query as sent (percent-encoded: the redaction decodes it)."""
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    target = path + (b"?" + query if query else b"")
    return target.decode("latin-1")


def _log_unhandled(exc: BaseException, scope: Scope, request_id: str) -> None:
    # The message of an unexpected error might quote input: log its type and the code
    # location it came from, never its text or the frames' values.
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else "?"
    log.error(
        "unhandled %s at %s in %s %s (request_id=%s)",
        type(exc).__name__,
        where,
        scope["method"],
        scope["path"],
        request_id,
    )
