"""What a serving process sets up at start so answers do not stall: the garbage collector
leaves what start-up loaded (MLflow, pandas, the model) alone (`POLKU_FREEZE_GC_AFTER_START`)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from service.main import create_app
from tests.service.helpers import FakeLoaded, make_settings


def test_start_freezes_what_it_loaded_out_of_the_collectors_reach(
    tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> None:
    gc.unfreeze()  # another test's app may have frozen this process already
    with TestClient(create_app(make_settings(tmp_path), model_loader=loader)) as api:
        assert gc.get_freeze_count() > 0
        model = api.app.state.holder.current.model  # type: ignore[attr-defined]
        walked = {id(o) for o in gc.get_objects()}  # the frozen are not among them
        assert id(model.__dict__) not in walked


def test_start_without_the_freeze_leaves_the_collector_alone(
    tmp_path: Path, loader: Callable[[], FakeLoaded]
) -> None:
    gc.unfreeze()
    settings = make_settings(tmp_path, freeze_gc_after_start=False)
    with TestClient(create_app(settings, model_loader=loader)):
        assert gc.get_freeze_count() == 0
