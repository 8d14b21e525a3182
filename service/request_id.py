"""`X-Request-ID` on every answer: the caller's own id when it is a plain token, else a new
one. 401, 413, 422, 429 and 503 answers carry it too, so a caller's log line can be matched
with the server's. A plain ASGI middleware (no per-request task), outermost.
"""

from __future__ import annotations

import re
import uuid
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER: Final = b"x-request-id"
# Only what cannot carry anything else: no spaces, no codes' signs, bounded length.
_ACCEPTED: Final = re.compile(rb"[A-Za-z0-9_]{8,64}")


class RequestIdMiddleware:
    """Answer every HTTP request with `X-Request-ID` (kept in `scope["state"]`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == HEADER), b"")
        request_id = given if _ACCEPTED.fullmatch(given) else uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id)]}
            await send(message)

        await self.app(scope, receive, send_with_id)
