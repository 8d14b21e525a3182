"""A planned caseworker session: the file `polku replay` hands from the register to the service.

One JSON object a line: the profile as a caseworker's system would send it (no personal
identity code: the client id keys the audit record), the moment the caseworker saw the
client (the assessment's own day, so the audit joins back to that assessment) and the
service the register logged for it (`none` for no service). The pipeline writes it from a
register (`pipeline.replay`), the service reads it (`service.replay`); neither imports the
other, and this module is their one contract.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.output_files import write_atomically


@dataclass(frozen=True)
class PlannedVisit:
    """One assessment to replay: what is sent, when, and what the register says was chosen."""

    profile: Mapping[str, Any]
    at: dt.datetime
    logged_service: str

    def to_line(self) -> str:
        record = {"profile": dict(self.profile), "at": self.at.isoformat(),
                  "logged_service": self.logged_service}  # fmt: skip
        return json.dumps(record, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> PlannedVisit:
        record = json.loads(line)
        if "henkilotunnus" in record["profile"]:
            raise ValueError("a session plan must not carry personal identity codes")
        return cls(
            profile=record["profile"],
            at=dt.datetime.fromisoformat(record["at"]),
            logged_service=str(record["logged_service"]),
        )


def write_plan(visits: Iterable[PlannedVisit], path: Path) -> int:
    """Write `visits` to `path` (JSON lines, atomically: `models.output_files`); the number."""

    def fill(temporary: Path) -> int:
        count = 0
        with temporary.open("w", encoding="utf-8") as out:
            for visit in visits:
                out.write(visit.to_line() + "\n")
                count += 1
        return count

    return write_atomically(path, fill)


def read_plan(path: Path) -> Iterator[PlannedVisit]:
    """The visits of a plan file, in order."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield PlannedVisit.from_line(line)
