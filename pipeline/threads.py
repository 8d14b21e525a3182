"""How many BLAS/OpenMP threads the offline steps use (one by default).

On this kind of shared two-core machine, numpy's OpenBLAS and scikit-learn's OpenMP pools
spin and contend when other processes are busy: the ranker's fit on 27,000 episodes took
203 s with the default pools and 14 s limited to one thread (3,000 episodes: 32 s and
1.2 s). One thread is the safe default; `POLKU_BLAS_THREADS` raises it on a quiet machine.
"""

from __future__ import annotations

import os
from typing import Any, Final

from threadpoolctl import threadpool_limits

THREADS_ENV: Final = "POLKU_BLAS_THREADS"


def numeric_threads() -> int:
    """Threads for BLAS and OpenMP: `$POLKU_BLAS_THREADS`, default 1."""
    raw = os.environ.get(THREADS_ENV, "1").strip()
    try:
        threads = int(raw)
    except ValueError:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}") from None
    if threads < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}")
    return threads


def limited_threads() -> Any:
    """Context manager limiting BLAS and OpenMP pools to `numeric_threads()`."""
    return threadpool_limits(limits=numeric_threads())
