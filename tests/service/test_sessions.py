"""Sessions that end and limits that hold (issue 13 item 3), on an injected clock.

Sign-out and key rotation end a saved cookie at once; idle and absolute timeouts end a
session; wrong keys, sign-in attempts and API requests are limited per key and per client
address with 429 and Retry-After. No test sleeps: the app's clock is stepped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.pages.session import COOKIE_NAME
from service.ratelimit import RateLimiter
from tests.service.helpers import KEYS, auth, make_settings
from tests.service.test_page import _csrf, _sign_in


class Clock:
    """A clock tests step by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _app(tmp_path: Path, loader: Callable[[], Any], clock: Clock, **changes: Any) -> TestClient:
    settings = make_settings(tmp_path, **changes)
    return TestClient(create_app(settings, model_loader=loader, clock=clock))


@pytest.fixture
def page(tmp_path: Path, loader: Callable[[], Any], clock: Clock) -> Iterator[TestClient]:
    with _app(tmp_path, loader, clock) as client:
        yield client


@contextlib.contextmanager
def _another_address(client: TestClient, address: tuple[str, int]) -> Iterator[TestClient]:
    """A client of the same running app from another address (no second lifespan)."""
    yield TestClient(client.app, client=address)


def _signed_in(client: TestClient) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


def test_a_saved_cookie_is_no_session_after_sign_out(page: TestClient) -> None:
    assert _sign_in(page).status_code == 303
    saved = page.cookies[COOKIE_NAME]
    token = _csrf(page.get("/").text)
    page.post("/signout", data={"csrf_token": token})
    page.cookies.set(COOKIE_NAME, saved)  # the attacker's copy of the signed-in cookie
    assert not _signed_in(page)


def test_rotating_the_caseworkers_key_ends_their_session(
    tmp_path: Path, loader: Callable[[], Any], clock: Clock
) -> None:
    with _app(tmp_path, loader, clock) as first:
        _sign_in(first)
        saved = first.cookies[COOKIE_NAME]
    # The same label with a new key (a restart with the rotated setting).
    rotated = {"caseworker_keys": {"desk-1": "rotated-caseworker-key-02"}}
    with _app(tmp_path, loader, clock, **rotated) as second:
        second.cookies.set(COOKIE_NAME, saved)
        assert not _signed_in(second)
    # And the session stays ended if the old key comes back.
    with _app(tmp_path, loader, clock) as third:
        third.cookies.set(COOKIE_NAME, saved)
        assert not _signed_in(third)


def test_an_idle_session_ends(page: TestClient, clock: Clock) -> None:
    _sign_in(page)
    for _ in range(4):  # used every 25 minutes: stays signed in past the idle timeout
        clock.advance(25 * 60)
        assert _signed_in(page)
    clock.advance(31 * 60)
    assert not _signed_in(page)


def test_a_session_ends_at_the_absolute_timeout_even_in_use(page: TestClient, clock: Clock) -> None:
    _sign_in(page)
    for _ in range(int(8 * 60 / 20) - 1):
        clock.advance(20 * 60)
        assert _signed_in(page)
    clock.advance(20 * 60)
    assert not _signed_in(page)


def test_wrong_keys_are_limited_per_address_with_retry_after(
    tmp_path: Path, loader: Callable[[], Any], clock: Clock
) -> None:
    with _app(tmp_path, loader, clock, auth_failures_per_minute=20) as api:
        answers = [
            api.get("/v1/services", headers={"X-API-Key": f"guess-{i}"}).status_code
            for i in range(25)
        ]
        assert answers == [401] * 20 + [429] * 5
        # Past the limit even a right key from that address waits.
        blocked = api.get("/v1/services", headers=auth("evaluator"))
        assert blocked.status_code == 429
        wait = int(blocked.headers["retry-after"])
        assert 1 <= wait <= 3
        # Another address is not held back.
        with _another_address(api, ("10.0.0.2", 4000)) as other:
            assert other.get("/v1/services", headers=auth("evaluator")).status_code == 200
        clock.advance(wait)
        assert api.get("/v1/services", headers=auth("evaluator")).status_code == 200


def test_api_requests_are_limited_per_key_and_per_address(
    tmp_path: Path, loader: Callable[[], Any], clock: Clock
) -> None:
    with _app(tmp_path, loader, clock, api_requests_per_minute=5) as api:
        codes = [api.get("/v1/services", headers=auth("evaluator")).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        # The address's budget is spent too: another key from the same address waits.
        limited = api.get("/v1/model", headers=auth("data_scientist"))
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) == 12  # one request a 12 s
        with _another_address(api, ("10.0.0.3", 4000)) as other:
            # Another address with the same key: the key's own budget is spent.
            assert other.get("/v1/services", headers=auth("evaluator")).status_code == 429
            assert other.get("/v1/model", headers=auth("data_scientist")).status_code == 200
        clock.advance(12)
        assert api.get("/v1/services", headers=auth("evaluator")).status_code == 200


def test_sign_in_attempts_are_limited_per_address_and_per_key(
    tmp_path: Path, loader: Callable[[], Any], clock: Clock
) -> None:
    with _app(tmp_path, loader, clock, signin_attempts_per_minute=3) as page:
        token = _csrf(page.get("/signin").text)
        codes = [
            page.post("/signin", data={"csrf_token": token, "key": f"guess-{i}"}).status_code
            for i in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        refused = page.post("/signin", data={"csrf_token": token, "key": KEYS["caseworker"]})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 20
        # The same key tried from many addresses is limited too.
        for i in range(3):
            with _another_address(page, (f"10.0.1.{i}", 4000)) as other:
                other_token = _csrf(other.get("/signin").text)
                attempt = other.post("/signin", data={"csrf_token": other_token, "key": "one"})
                assert attempt.status_code == 401
        with _another_address(page, ("10.0.1.9", 4000)) as other:
            other_token = _csrf(other.get("/signin").text)
            attempt = other.post("/signin", data={"csrf_token": other_token, "key": "one"})
            assert attempt.status_code == 429
        clock.advance(20)
        assert _sign_in(page).status_code == 303


def test_rate_limiter_refills_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock)
    assert all(limiter.take("k") == 0 for _ in range(60))
    assert limiter.take("k") == pytest.approx(1.0)
    assert limiter.take("other") == 0
    clock.advance(0.5)
    assert limiter.wait_seconds("k") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.take("k") == 0
    with pytest.raises(ValueError):
        RateLimiter(0, clock)
