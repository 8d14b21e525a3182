"""Write one benchmark's section of BENCHMARKS.md, leaving the other sections as they are."""

from __future__ import annotations

import datetime as dt
import platform
import re
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
_HEADER = (
    "# Benchmarks\n\n"
    "Each section is written by the `bench/` script it names (`make bench` runs them all).\n"
    "Machines here are shared and noisy: read medians and ratios, not single runs.\n"
)


def write_section(name: str, command: str, body: str) -> None:
    """Replace or append the section `name`, stamped with date, machine and command."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else _HEADER
    stamp = (
        f"_Measured {dt.date.today().isoformat()} on {platform.machine()}, "
        f"Python {platform.python_version()}; command: `{command}`_\n\n"
    )
    section = f"<!-- bench:{name} -->\n{stamp}{body.strip()}\n<!-- /bench:{name} -->"
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    BENCHMARKS_MD.write_text(text)
