"""Helpers shared by every test folder (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple, TypeVar

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.data.mapping import ExtractMapping
    from pipeline.data.world import World
    from pipeline.training.train import TrainedModel, TrainSettings

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
# The example extract mapping (docs/EXTRACTS.md): Finnish column names, the extract's codes.
EXAMPLE_MAPPING = Path(__file__).resolve().parent.parent / "data" / "mappings" / "example.toml"


def load_bench_module(filename: str, module_name: str) -> ModuleType:
    """Import a script of `bench/` (not a package) under `module_name`.

    It is registered in `sys.modules` because dataclasses look their module up by name.
    """
    spec = importlib.util.spec_from_file_location(module_name, BENCH_DIR / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


class TinyTraining(NamedTuple):
    """What the `tiny_training` fixture holds: the tiny world loaded, the model fitted and
    evaluated on it, and the settings used."""

    world: World
    trained: TrainedModel
    settings: TrainSettings


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `predicate` until it returns something true, and return that.

    Tests wait on the condition they need instead of sleeping a fixed time and hoping the
    machine was fast enough; a slow machine only waits longer, up to `timeout` seconds,
    after which the test fails naming `what` it waited for.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s in vain for {what}")
        time.sleep(interval)


def to_extract(frame: pd.DataFrame, mapping: ExtractMapping) -> pd.DataFrame:
    """A CSV-read table rewritten as the mapped extract writes it: its names, its codes."""
    out = frame.copy()
    for name, codes in mapping.values.items():
        if name not in out.columns:
            continue
        back = {str(t).lower() if isinstance(t, bool) else str(t): c for c, t in codes.items()}
        out[name] = [
            back.get(v.lower() if v in ("True", "False") else v, v) if isinstance(v, str) else v
            for v in out[name]
        ]
    return out.rename(columns=mapping.column_of)


def rewrite_as_extract(source: Path, target: Path, mapping: ExtractMapping) -> Path:
    """Clients and episodes of a CSV world in the extract's shape; the truth copied as is."""
    import shutil

    import pandas as pd

    target.mkdir(parents=True, exist_ok=True)
    for name in ("clients", "episodes"):
        raw = pd.read_csv(source / f"{name}.csv", dtype=str, keep_default_na=False)
        to_extract(raw, mapping).to_csv(target / f"{name}.csv", index=False)
    shutil.copy(source / "truth.csv", target / "truth.csv")
    return target
