"""Close connections whose request does not arrive in time (header and body read timeouts).

uvicorn has no such limit: `timeout_keep_alive` covers only the idle time between two
requests and restarts on every byte, so a client that sends half a request, or one byte a
second, holds a connection (and a worker's file descriptor) for as long as it likes. These
protocol classes add two deadlines, counted from a fixed start so that trickling bytes
does not extend them:

- the request line and headers must be complete within `header_timeout_seconds` of the
  connection opening (or of the first byte of a later request on a kept-alive connection);
- the body must be complete within `body_timeout_seconds` of the headers.

Past a deadline the client gets `408 Request Timeout` (if no answer has begun) and the
connection is closed; the app sees the client disconnect. `polku serve` uses these in
place of uvicorn's own httptools protocol (`service.cli`; httptools is a dependency of
Polku); it reads the limits from the settings
(`POLKU_HEADER_TIMEOUT_SECONDS`, `POLKU_BODY_TIMEOUT_SECONDS`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.request_id import TIMED_OUT

log = logging.getLogger(__name__)


_TIMEOUT_TEXT: Final = b"the request did not arrive in time\n"
TIMEOUT_ANSWER: Final = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_TEXT), _TIMEOUT_TEXT)
)


class _RequestDeadline:
    """The deadlines, kept apart from the parser callbacks that move them (a mixin).

    Subclasses (tests) may set `header_timeout` and `body_timeout`; by default they come
    from the service settings.
    """

    header_timeout: ClassVar[float | None] = None
    body_timeout: ClassVar[float | None] = None

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any

    def _init_deadline(self) -> None:
        self._deadline: asyncio.TimerHandle | None = None
        self._phase = ""
        if self.header_timeout is None or self.body_timeout is None:
            from service.settings import get_settings

            settings = get_settings()
            self._header_seconds = self.header_timeout or settings.header_timeout_seconds
            self._body_seconds = self.body_timeout or settings.body_timeout_seconds
        else:
            self._header_seconds, self._body_seconds = self.header_timeout, self.body_timeout

    def _arm(self, phase: str) -> None:
        if self._phase == phase:
            return  # a deadline runs from a fixed start: bytes arriving do not extend it
        self._disarm()
        self._phase = phase
        seconds = self._header_seconds if phase == "headers" else self._body_seconds
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._phase = None, ""

    def _expired(self) -> None:
        phase, self._deadline, self._phase = self._phase, None, ""
        if self.transport.is_closing():
            return
        log.info("closed a connection whose request %s did not arrive in time", phase)
        cycle = self.cycle
        if phase == "headers":
            # No request of this one's has begun: `cycle` is none, or the previous request's
            # on a kept-alive connection, answered already. Only an answer still being
            # written (a pipelined request behind it) must not be cut into.
            if cycle is None or not cycle.response_started or cycle.response_complete:
                self.transport.write(TIMEOUT_ANSWER)
        elif cycle is None or not cycle.response_started:
            self.transport.write(TIMEOUT_ANSWER)
            if cycle is not None:  # the app is waiting for the body: its access line
                cycle.scope["state"][TIMED_OUT] = True  # says 408, what the client got
        self.transport.close()


class TimedHttpToolsProtocol(_RequestDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with the header and body deadlines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_deadline()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm("headers")  # a later request on a kept-alive connection

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm("body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
