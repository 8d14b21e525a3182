"""Workers of `polku serve --workers N` end when their supervisor does.

uvicorn's supervisor hands each worker the listening socket, so a worker whose supervisor
was killed (kill -9 leaves it no time to stop them) goes on answering, unsupervised and
never restarted or stopped by a deploy. Each worker here asks Linux to send it SIGTERM
when its parent dies (`PR_SET_PDEATHSIG`), and also checks its parent every second (other
systems, and the moment before the request took effect). SIGTERM is uvicorn's graceful
stop: requests in flight are answered, then the worker exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
from typing import Final

log = logging.getLogger(__name__)

SUPERVISOR_ENV: Final = "POLKU_SUPERVISOR_PID"  # set by `polku serve` when workers > 1
_PR_SET_PDEATHSIG: Final = 1
CHECK_SECONDS: Final = 1.0


def supervisor_pid() -> int | None:
    """The supervisor this process is a worker of, or None (the server runs in one process)."""
    given = os.environ.get(SUPERVISOR_ENV, "")
    if not given.isdigit() or int(given) == os.getpid():
        return None
    return int(given)


def follow_supervisor() -> asyncio.Task[None] | None:
    """In a worker: stop when the supervisor is gone. Returns the watching task (cancel it
    on shutdown), or None outside a worker. Call from the event loop (the app's lifespan)."""
    supervisor = supervisor_pid()
    if supervisor is None:
        return None
    _signal_me_when_my_parent_dies()
    if os.getppid() != supervisor:  # it died before the request took effect
        _stop(supervisor)
    return asyncio.get_running_loop().create_task(_watch(supervisor))


def _signal_me_when_my_parent_dies() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.warning("could not ask for a signal on the supervisor's death; polling only")


async def _watch(supervisor: int) -> None:
    while True:
        await asyncio.sleep(CHECK_SECONDS)
        if os.getppid() != supervisor:
            _stop(supervisor)
            return


def _stop(supervisor: int) -> None:
    log.warning("the supervisor (pid %d) is gone: this worker stops", supervisor)
    os.kill(os.getpid(), signal.SIGTERM)
