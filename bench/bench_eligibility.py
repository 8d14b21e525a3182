"""Benchmark the gate: 1,000,000 profiles through the vectorised path, a sample one by one.

Goals (issue 2): the vectorised path decides 1M profiles in under 5 s on the 2-core machine,
at least 50 times the per-profile rate. Also times validation of a 100,000-row extract.
Run as `.venv/bin/python bench/bench_eligibility.py`; writes its section of BENCHMARKS.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks_md import write_section

from models.eligibility import assess_eligibility, assess_eligibility_frame
from models.profile import (
    BARRIER_FLAGS,
    LABOUR_MARKET_STATUSES,
    PROFILE_COLUMNS,
    UNEMPLOYMENT_BENEFITS,
)
from models.profile_validation import parse_profile, parse_profile_frame, profile_from_row

N_VECTORISED = 1_000_000
N_SINGLE = 20_000
N_VALIDATE = 100_000
N_SINGLE_PARSE = 2_000
REPEATS = 5
SEED = 20260


def generate_profiles(n: int, seed: int) -> pd.DataFrame:
    """A typed profile frame of `n` random job seekers spread over 2020-2025."""
    rng = np.random.default_rng(seed)
    assessed = np.datetime64("2020-09-01") + rng.integers(0, 1700, n).astype("timedelta64[D]")
    born = assessed - rng.integers(17 * 365, 66 * 365, n).astype("timedelta64[D]")
    client_since = np.where(
        rng.random(n) < 0.3,
        np.datetime64("2021-03-01") + rng.integers(0, 1300, n).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    tongues = np.array(["fi", "sv", "se", "ru", "so", "et", "ar", "en"])
    columns: dict[str, object] = {
        "client_id": pd.Series(np.char.add("c", np.arange(n).astype(str)), dtype="str"),
        "birth_date": born.astype("datetime64[ns]"),
        "home_municipality": pd.Series(
            rng.choice(["091", "049", "092"], n, p=[0.8, 0.1, 0.1]), dtype="str"
        ),
        "mother_tongue": pd.Series(
            tongues[rng.choice(8, n, p=[0.7, 0.05, 0.01, 0.06, 0.04, 0.05, 0.04, 0.05])],
            dtype="str",
        ),
        "immigrant": rng.random(n) < 0.15,
        "registered_jobseeker": rng.random(n) < 0.92,
        "labour_market_status": pd.Series(rng.choice(LABOUR_MARKET_STATUSES, n), dtype="str"),
        "unemployment_benefit": pd.Series(rng.choice(UNEMPLOYMENT_BENEFITS, n), dtype="str"),
        "assessment_date": assessed.astype("datetime64[ns]"),
        "experiment_client_since": client_since.astype("datetime64[ns]"),
        "education_level": pd.Series(np.full(n, "basic"), dtype="str"),
        "unemployment_months": rng.integers(0, 60, n),
        "work_experience_years": rng.random(n) * 20,
        "language_level": pd.Series(np.full(n, "native"), dtype="str"),
        "work_ability": pd.Series(np.full(n, "full"), dtype="str"),
        **{flag: rng.random(n) < 0.1 for flag in BARRIER_FLAGS},
        "entrepreneurship_interest": pd.Series(np.full(n, "none"), dtype="str"),
        "gender": pd.Series(rng.choice(["female", "male"], n), dtype="str"),
    }
    return pd.DataFrame(columns, columns=list(PROFILE_COLUMNS))


def _median_seconds(run: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    frame = generate_profiles(N_VECTORISED, SEED)
    assess_eligibility_frame(frame.head(1000))  # load the parameter sets outside the timing
    vector_s = _median_seconds(lambda: assess_eligibility_frame(frame), REPEATS)

    sample_frame = frame.sample(N_SINGLE, random_state=SEED)
    sample = [profile_from_row(row) for _, row in sample_frame.iterrows()]
    single_s = _median_seconds(lambda: [assess_eligibility(p) for p in sample], 3)

    # The two paths must agree on what was timed.
    decided = assess_eligibility_frame(sample_frame)
    singles = [assess_eligibility(p) for p in sample]
    assert decided["eligible"].tolist() == [d.eligible for d in singles]
    assert decided["failed_conditions"].tolist() == [d.failed_conditions for d in singles]

    raw = frame.head(N_VALIDATE).astype(str).replace({"NaT": "", "nan": ""})
    for name in ("birth_date", "assessment_date", "experiment_client_since"):
        raw[name] = raw[name].str.slice(0, 10)
    raw[["immigrant", "registered_jobseeker", *BARRIER_FLAGS]] = raw[
        ["immigrant", "registered_jobseeker", *BARRIER_FLAGS]
    ].apply(lambda column: column.str.lower())
    validate_s = _median_seconds(lambda: parse_profile_frame(raw), 3)
    assert parse_profile_frame(raw).ok
    # One JSON-like object at a time, as the API validates a request.
    one_by_one: list[dict[str, Any]] = raw.head(N_SINGLE_PARSE).to_dict("records")  # type: ignore[assignment]
    single_parse_s = _median_seconds(lambda: [parse_profile(r) for r in one_by_one], 3)

    vector_rate = N_VECTORISED / vector_s
    single_rate = N_SINGLE / single_s
    ratio = vector_rate / single_rate
    validation_row = (
        f"| validation `parse_profile_frame` (text) | {N_VALIDATE:,} | {validate_s:.2f} s "
        f"| {N_VALIDATE / validate_s:,.0f} |\n"
        f"| validation `parse_profile` (one at a time) | {N_SINGLE_PARSE:,} "
        f"| {single_parse_s:.2f} s | {N_SINGLE_PARSE / single_parse_s:,.0f} |"
    )
    eligible_share = float(assess_eligibility_frame(frame)["eligible"].mean())
    body = f"""
The eligibility gate (`models/eligibility/`) on generated profiles (2020-2025 assessment
dates, both parameter sets in play).

| path | profiles | median time | rate (profiles/s) |
|---|---|---|---|
| vectorised `assess_eligibility_frame` | {N_VECTORISED:,} | {vector_s:.2f} s | {vector_rate:,.0f} |
| per profile `assess_eligibility` | {N_SINGLE:,} | {single_s:.2f} s | {single_rate:,.0f} |
{validation_row}

Vectorised / per-profile rate: **{ratio:.0f}x** (goal >= 50x); 1M profiles in
**{vector_s:.2f} s** (goal < 5 s). Medians of {REPEATS} vectorised runs and 3 per-profile and
validation runs; seed {SEED}; {eligible_share:.1%} of the generated profiles are eligible.
The per-profile path decides through the same rule functions on length-1 arrays.
"""
    write_section("eligibility", ".venv/bin/python bench/bench_eligibility.py", body)
    print(body)


if __name__ == "__main__":
    main()
