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
    from pipeline.data.world import World
    from pipeline.training.train import TrainedModel, TrainSettings

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


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
