"""Rate limits: a token bucket per key (an API key's label, a client address, ...).

Each bucket holds up to `per_minute` tokens and refills at `per_minute / 60` a second; a
request takes one. An empty bucket answers how long until the next token, which becomes the
429's `Retry-After`. The buckets live in the serving process (with several workers each
keeps its own, so the effective limit is up to workers x the setting). The clock is
injected, so tests step time instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Final

from fastapi import HTTPException, status

_MAX_BUCKETS: Final = 100_000  # beyond this, full buckets (idle callers) are forgotten


class RateLimiter:
    """Token buckets of `per_minute` requests, one per key.

    Parameters
    ----------
    per_minute : sustained requests a minute (also the burst a full bucket allows).
    clock : seconds, monotonic (default `time.monotonic`).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("a rate limit needs at least one request a minute")
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.per_second)

    def wait_seconds(self, key: str) -> float:
        """Seconds until `key` may make a request (0 when it may now); takes nothing."""
        with self._lock:
            tokens = self._tokens(key, self._clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.per_second

    def take(self, key: str) -> float:
        """Take a token for `key`: 0 when granted, else seconds until one is free."""
        with self._lock:
            now = self._clock()
            tokens = self._tokens(key, now)
            if tokens < 1:
                return (1 - tokens) / self.per_second
            if len(self._buckets) >= _MAX_BUCKETS and key not in self._buckets:
                self._forget_full(now)
            self._buckets[key] = (tokens - 1, now)
            return 0.0

    def _forget_full(self, now: float) -> None:
        for key in [k for k in self._buckets if self._tokens(k, now) >= self.capacity]:
            del self._buckets[key]
        if len(self._buckets) >= _MAX_BUCKETS:  # a flood of new keys: start afresh
            self._buckets.clear()


def too_many_requests(wait_seconds: float) -> HTTPException:
    """The 429 answer, with the whole seconds to wait in `Retry-After`."""
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail="too many requests: try again later",
        headers={"Retry-After": str(max(1, math.ceil(wait_seconds)))},
    )
