"""The service's own access log: one line per request, with its request id.

uvicorn writes its access line from inside the server, where the app's request id is not
known; `polku serve` turns that line off and `service.request_id.RequestIdMiddleware`
writes this one instead, through the `polku.access` logger. `log_config` is the logging
setup `polku serve` hands uvicorn: uvicorn's own, plus the service's loggers, with the
identity-code redaction on every handler.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any, Final

ACCESS_LOGGER: Final = "polku.access"
_access = logging.getLogger(ACCESS_LOGGER)

_REDACT: Final = {"()": "service.errors.RedactingFilter"}


def access_enabled() -> bool:
    """Whether access lines are wanted (off with `polku serve --no-access-log`)."""
    return _access.isEnabledFor(logging.INFO)


def log_access(
    *,
    client: tuple[str, int] | None,
    method: str,
    target: str,
    http_version: str,
    status: int,
    milliseconds: float,
    request_id: str,
    audit_ids: Sequence[str] = (),
) -> None:
    """Write one access line. `target` is the path and query as sent; the redaction filter
    on the handlers decodes and scrubs it (`service.errors.redact`). `audit_ids` are the
    audit records the request wrote or decided on (`audit_id=`), joining line and row."""
    where = f"{client[0]}:{client[1]}" if client else "-"
    audit = f" audit_id={','.join(audit_ids)}" if audit_ids else ""
    _access.info(
        '%s - "%s %s HTTP/%s" %s %.1fms request_id=%s%s',
        where,
        method,
        target,
        http_version,
        status or "-",  # no answer was sent (the client went away first)
        milliseconds,
        request_id,
        audit,
    )


def log_config(*, access_log: bool, log_level: str = "info") -> dict[str, Any]:
    """uvicorn's logging setup with uvicorn's access line off and the service's on.

    Every handler redacts identity codes; `service.*` messages (the model at start, an
    unhandled error's type and place) reach the error stream at `log_level`.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": _REDACT}
    config["formatters"]["polku_access"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(message)s",
        "use_colors": None,
    }
    config["handlers"]["polku_access"] = {
        "formatter": "polku_access",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["loggers"]["uvicorn.access"] = {"handlers": [], "level": "WARNING", "propagate": False}
    config["loggers"][ACCESS_LOGGER] = {
        "handlers": ["polku_access"],
        "level": "INFO" if access_log else "WARNING",
        "propagate": False,
    }
    config["loggers"]["service"] = {
        "handlers": ["default"],
        "level": log_level.upper(),
        "propagate": False,
    }
    return config
