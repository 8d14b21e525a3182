"""Half-sent requests are answered 408 and closed, against a real `polku serve` (raw sockets)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.helpers import wait_until
from tests.service.helpers import LiveServer, start_server

HEADER_SECONDS = 1.0
BODY_SECONDS = 1.5
# Timers fire on the event loop; allow for a loaded 2-core machine.
SLACK = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    state = tmp_path_factory.mktemp("timeouts")
    live = start_server(
        state,
        tmp_path_factory.mktemp("empty-registry"),  # no model: only /health/live is needed
        env={
            "POLKU_HEADER_TIMEOUT_SECONDS": str(HEADER_SECONDS),
            "POLKU_BODY_TIMEOUT_SECONDS": str(BODY_SECONDS),
            "POLKU_LOAD_MODEL_ON_START": "false",
        },
        ready_path="/health/live",
    )
    yield live
    live.stop()


def _connect(server: LiveServer) -> socket.socket:
    address = urlsplit(server.base_url)
    connection = socket.create_connection((address.hostname, address.port), timeout=10)
    return connection


def _until_closed(connection: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and the seconds that took."""
    started = time.monotonic()
    received = b""
    while chunk := connection.recv(4096):
        received += chunk
    return received, time.monotonic() - started


def _one_answer(connection: socket.socket) -> bytes:
    """One whole answer (headers and a Content-Length body) from a kept-alive connection."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(4096)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(4096)
    return head + b"\r\n\r\n" + body


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    server: LiveServer,
) -> None:
    with _connect(server) as connection:
        answer, seconds = _until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert HEADER_SECONDS - 0.2 <= seconds <= HEADER_SECONDS + SLACK


def test_headers_trickled_byte_by_byte_do_not_extend_the_deadline(server: LiveServer) -> None:
    with _connect(server) as connection:
        started = time.monotonic()
        connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: polku\r\n")
        closed = False
        for _ in range(40):  # one header byte every 0.1 s, never the blank line
            try:
                connection.sendall(b"X")
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            connection.settimeout(0.01)
            try:
                if connection.recv(4096).startswith(b"HTTP/1.1 408"):
                    closed = True
                    break
            except TimeoutError:
                pass
        seconds = time.monotonic() - started
    assert closed, "still open after 4 s of trickled headers"
    assert seconds <= HEADER_SECONDS + SLACK


def test_a_body_that_never_completes_is_closed_after_the_body_timeout(server: LiveServer) -> None:
    with _connect(server) as connection:
        connection.sendall(
            b"POST /v1/eligibility HTTP/1.1\r\nHost: polku\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"profile":'
        )
        answer, seconds = _until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert BODY_SECONDS - 0.2 <= seconds <= BODY_SECONDS + SLACK
    wait_until(
        lambda: '"POST /v1/eligibility HTTP/1.1" 408 ' in server.log_path.read_text(),
        10,
        "the access line of the cut request, with the 408 the client got",
    )


def test_many_half_sent_requests_are_all_closed(server: LiveServer) -> None:
    connections = [_connect(server) for _ in range(50)]
    try:
        for k, connection in enumerate(connections):
            connection.sendall(b"GET /health/live HTTP/1.1\r\n" if k % 2 else b"POST /v1/")
        time.sleep(HEADER_SECONDS + SLACK)
        still_open = 0
        for connection in connections:
            connection.settimeout(0.5)
            try:
                answer = connection.recv(4096)
                still_open += not answer.startswith(b"HTTP/1.1 408")
            except TimeoutError:
                still_open += 1
    finally:
        for connection in connections:
            connection.close()
    assert still_open == 0


def test_whole_requests_on_a_kept_alive_connection_are_not_cut(server: LiveServer) -> None:
    request = b"GET /health/live HTTP/1.1\r\nHost: polku\r\n\r\n"
    with _connect(server) as connection:
        for _ in range(3):  # spaced past the header timeout in total, each one prompt
            connection.sendall(request)
            answer = _one_answer(connection)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
            time.sleep(0.6)


def test_a_stalled_second_request_on_a_kept_alive_connection_gets_the_408(
    server: LiveServer,
) -> None:
    # The deadline saw the first request's finished answer and closed the connection
    # without a word; the second request's headers are as late as a first one's.
    with _connect(server) as connection:
        connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: polku\r\n\r\n")
        assert _one_answer(connection).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: po")
        answer, _ = _until_closed(connection)
        seconds = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert HEADER_SECONDS - 0.2 <= seconds <= HEADER_SECONDS + SLACK
