"""Validate the profiles of concurrent requests together, with the gate's frame validator.

`models.profile_validation` checks profiles column-wise on a frame; one profile costs about
as much as dozens (a few milliseconds of fixed overhead). Requests that arrive while a
validation runs are therefore collected and validated in the next single call, so the
service's throughput does not hang on that overhead. Each request still gets exactly the
answer `parse_profile` would give it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Final

import pandas as pd

from models.henkilotunnus import HENKILOTUNNUS_PATTERN
from models.profile import PROFILE_FIELDS, ClientProfile
from models.profile_validation import (
    FieldError,
    ProfileValidationError,
    parse_profile_frame,
    profile_from_row,
)

MAX_BATCH: Final = 256


def parse_profiles(
    raws: Sequence[Mapping[str, Any]],
) -> list[ClientProfile | ProfileValidationError]:
    """Validate several raw profiles in one call; per profile its typed form or its errors.

    Equivalent, profile by profile, to `models.profile_validation.parse_profile`.
    """
    if not raws:
        return []
    frame = pd.DataFrame(
        {
            name: pd.Series([raw.get(name) for raw in raws], dtype=object)
            for name in PROFILE_FIELDS
            if any(name in raw for raw in raws)
        },
        index=pd.RangeIndex(len(raws)),
    )
    result = parse_profile_frame(frame)
    errors: dict[int, list[FieldError]] = {}
    for error in result.errors:
        errors.setdefault(error.row - 1, []).append(FieldError(error.field, error.message))
    for position, raw in enumerate(raws):
        for name in sorted(set(raw) - set(PROFILE_FIELDS)):
            shown = "(unknown)" if HENKILOTUNNUS_PATTERN.search(name) else name
            errors.setdefault(position, []).append(FieldError(shown, "unknown field"))
    rows: dict[Any, dict[str, Any]] = result.frame.to_dict("index")  # type: ignore[assignment]
    out: list[ClientProfile | ProfileValidationError] = []
    for position in range(len(raws)):
        if position in errors:
            out.append(ProfileValidationError(tuple(errors[position])))
        else:
            out.append(profile_from_row(rows[position]))
    return out


class ProfileBatcher:
    """Collect profiles awaiting validation on the event loop and validate them together.

    Examples
    --------
    >>> profile = await batcher.parse(raw)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Mapping[str, Any], asyncio.Future[ClientProfile]]] = []
        self._scheduled = False

    async def parse(self, raw: Mapping[str, Any]) -> ClientProfile:
        """The validated profile (raises `ProfileValidationError` as `parse_profile` would)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[ClientProfile] = loop.create_future()
        self._pending.append((raw, done))
        if not self._scheduled:
            self._scheduled = True
            # Runs after the callbacks already queued: requests read in this same turn of
            # the loop join the batch.
            loop.call_soon(self._flush)
        return await done

    def _flush(self) -> None:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        if self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._scheduled = False
        try:
            results = parse_profiles([raw for raw, _ in batch])
        except Exception as exc:  # a failure of the validator itself fails the whole batch
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, done), result in zip(batch, results, strict=True):
            if done.done():  # the request went away meanwhile
                continue
            if isinstance(result, ProfileValidationError):
                done.set_exception(result)
            else:
                done.set_result(result)
