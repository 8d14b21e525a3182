"""The censoring benchmark's registers: what each way round a censored extract makes of it."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from models.objectives import EPISODE_OUTCOMES
from pipeline.synth.censoring import censor_outcomes
from tests.helpers import load_bench_module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench_module("bench_censoring.py", "bench_censoring_runner")


@pytest.fixture()
def censored() -> pd.DataFrame:
    dates = pd.to_datetime(["2022-01-01", "2022-09-01", "2023-03-01", "2023-06-30"])
    ones = np.ones(4, dtype=np.int8)
    episodes = pd.DataFrame({"assessment_date": dates, **dict.fromkeys(EPISODE_OUTCOMES, ones)})
    return censor_outcomes(episodes)


def test_an_extract_on_its_last_day_has_what_has_passed(censored: pd.DataFrame) -> None:
    # 2022-09-01 has its six months (to 2023-03-01) but not its twelve.
    assert censored["employed_6m"].isna().tolist() == [False, False, True, True]
    assert censored["employed_12m"].isna().tolist() == [False, True, True, True]


def test_each_variant_keeps_drops_or_fills_the_blanks(bench, censored: pd.DataFrame) -> None:
    weighted = bench.variant_episodes(censored, "censored, weighted")
    assert weighted["employed_12m"].isna().sum() == 3
    complete = bench.variant_episodes(censored, "complete episodes only")
    assert complete["assessment_date"].tolist() == [pd.Timestamp("2022-01-01")]
    zeros = bench.variant_episodes(censored, "blanks as 0")
    assert zeros["employed_12m"].tolist() == [1, 0, 0, 0]
    assert zeros["employed_6m"].tolist() == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="unknown variant"):
        bench.variant_episodes(censored, "imputed")
