"""Native thread pools of a serving process: one thread each, set in one place.

Scoring one request is tiny, so OpenMP/BLAS thread pools only add wake-up latency and
contend with the other workers for the cores. Offline work has its own limit
(`pipeline.threads`).
"""

from __future__ import annotations

import os
from typing import Final

THREAD_VARIABLES: Final = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_serving_threads() -> None:
    """One native thread per pool, for libraries loaded now and those loaded later.

    The variables reach libraries that start their pools later (the model's, when it is
    loaded) and any process started from this one; threadpoolctl covers those already
    loaded.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
