from __future__ import annotations

import dataclasses
import datetime as dt
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from models import features
from models.features import (
    CATEGORICAL_LEVELS,
    DRIVER_FACTORS,
    DRIVER_REFERENCE,
    FEATURE_NAMES,
    FeatureEncoder,
    FeatureLayoutError,
    feature_layout_fingerprint,
)
from models.profile import BARRIER_FLAGS, NEVER_FEATURES, ClientProfile
from models.profile_validation import profiles_to_frame
from tests.models.world import ToyEpisodes, base_profile, profile_of


@pytest.fixture(scope="module")
def encoder(world: ToyEpisodes) -> FeatureEncoder:
    return FeatureEncoder().fit(world.frame)


def test_encoder_transform_equals_encode_one_row_by_row(
    encoder: FeatureEncoder, world: ToyEpisodes
) -> None:
    rows = encoder.transform(world.frame.iloc[:200])
    singles = np.vstack([encoder.encode_one(profile_of(world.frame, i)) for i in range(200)])
    np.testing.assert_array_equal(rows, singles)


@st.composite
def any_profile(draw: st.DrawFn) -> ClientProfile:
    """A profile with arbitrary feature sources: ages 0-100, values past every cap."""
    assessed = draw(st.dates(dt.date(2018, 1, 1), dt.date(2026, 12, 31)))
    age_days = draw(st.integers(0, 100 * 366) | st.integers(25 * 365 - 3, 25 * 365 + 3))
    need = {field: draw(st.sampled_from(levels)) for field, levels in CATEGORICAL_LEVELS.items()}
    return base_profile(
        birth_date=assessed - dt.timedelta(days=age_days),
        assessment_date=assessed,
        unemployment_months=draw(st.integers(0, 200) | st.sampled_from([5, 6, 11, 12, 23, 24])),
        work_experience_years=draw(st.floats(0, 70, allow_nan=False)),
        **{flag: draw(st.booleans()) for flag in BARRIER_FLAGS},
        **need,
    )


@settings(max_examples=80, deadline=None)
@given(st.lists(any_profile(), min_size=1, max_size=12))
def test_encoder_profile_path_equals_frame_path(
    encoder: FeatureEncoder, batch: list[ClientProfile]
) -> None:
    # The serving reader (profiles, no DataFrame) and the frame reader feed one encoding:
    # both must give the same sources, so the same rows, for every profile.
    rows = encoder.transform(profiles_to_frame(batch))
    for i, profile in enumerate(batch):
        np.testing.assert_array_equal(encoder.encode_one(profile), rows[i])
        row, factors, counterfactuals = encoder.encode_with_counterfactuals(profile)
        np.testing.assert_array_equal(row, rows[i])
        if factors:
            changed = [dataclasses.replace(profile, **{f: DRIVER_REFERENCE[f]}) for f in factors]
            expected = encoder.transform(profiles_to_frame(changed))
            np.testing.assert_array_equal(counterfactuals, expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(any_profile(), min_size=1, max_size=12))
def test_frame_counterfactuals_equal_the_profile_path(
    encoder: FeatureEncoder, batch: list[ClientProfile]
) -> None:
    # The nightly batch's drivers (one encoding per factor over the frame) must be the
    # serving path's: the same needs, the same counterfactual rows.
    rows, factors, each = encoder.transform_with_counterfactuals(profiles_to_frame(batch))
    assert factors == DRIVER_FACTORS
    per_factor = dict(zip(factors, each, strict=True))
    for index, encoded in per_factor.values():
        assert np.all(np.diff(index) > 0) and len(encoded) == len(index)
    for i, profile in enumerate(batch):
        row, present, counterfactuals = encoder.encode_with_counterfactuals(profile)
        np.testing.assert_array_equal(rows[i], row)
        assert tuple(f for f in factors if i in per_factor[f][0]) == present
        for f, expected in zip(present, counterfactuals, strict=True):
            index, encoded = per_factor[f]
            np.testing.assert_array_equal(encoded[np.flatnonzero(index == i)[0]], expected)


def test_encoder_ignores_gender_mother_tongue_and_client_id(
    encoder: FeatureEncoder, world: ToyEpisodes
) -> None:
    frame = world.frame.iloc[:300].copy()
    changed = frame.copy()
    changed["gender"] = np.where(frame["gender"] == "female", "male", "female")
    changed["mother_tongue"] = "sv"
    changed["client_id"] = [f"other{i}" for i in range(len(frame))]
    np.testing.assert_array_equal(encoder.transform(frame), encoder.transform(changed))
    for name in FEATURE_NAMES:
        assert name.split("=")[0] not in NEVER_FEATURES


def test_encoder_unknown_level_names_row_and_field(
    encoder: FeatureEncoder, world: ToyEpisodes
) -> None:
    frame = world.frame.iloc[:5].copy()
    frame.loc[frame.index[2], "language_level"] = "Z9"
    with pytest.raises(ValueError, match=r"row 3: language_level has unknown value 'Z9'"):
        encoder.transform(frame)


def test_encoder_negative_months_names_row(encoder: FeatureEncoder, world: ToyEpisodes) -> None:
    frame = world.frame.iloc[:5].copy()
    frame.loc[frame.index[4], "unemployment_months"] = -1
    with pytest.raises(ValueError, match=r"row 5: unemployment_months must be a non-negative"):
        encoder.transform(frame)


def test_encoder_missing_column_is_named(encoder: FeatureEncoder, world: ToyEpisodes) -> None:
    with pytest.raises(ValueError, match=r"lacks column.*birth_date"):
        encoder.transform(world.frame.drop(columns=["birth_date"]))


def test_encoder_encode_one_unknown_value_is_named(encoder: FeatureEncoder) -> None:
    profile = base_profile(work_ability="sometimes")
    with pytest.raises(ValueError, match="work_ability: unknown value 'sometimes'"):
        encoder.encode_one(profile)


def test_encoder_before_fit_raises() -> None:
    with pytest.raises(NotFittedError):
        FeatureEncoder().encode_one(base_profile())


def test_encoder_age_band_turns_on_the_25th_birthday(encoder: FeatureEncoder) -> None:
    import datetime as dt

    day_before = encoder.encode_one(base_profile(birth_date=dt.date(1997, 9, 2)))  # 24
    birthday = encoder.encode_one(base_profile(birth_date=dt.date(1997, 9, 1)))  # 25
    assert day_before[FEATURE_NAMES.index("age_under_25")] == 1.0
    assert birthday[FEATURE_NAMES.index("age_under_25")] == 0.0
    assert birthday[FEATURE_NAMES.index("age_25_29")] == 1.0


def test_counterfactuals_reset_exactly_one_need(encoder: FeatureEncoder) -> None:
    profile = base_profile(
        health_limitations=True, language_level="A1", mother_tongue="ru", immigrant=True
    )
    factors, rows = encoder.encode_counterfactuals(profile)
    assert set(factors) == {"health_limitations", "language_level"}
    without_health = encoder.encode_one(
        base_profile(language_level="A1", mother_tongue="ru", immigrant=True)
    )
    np.testing.assert_array_equal(rows[factors.index("health_limitations")], without_health)
    native = encoder.encode_one(base_profile(health_limitations=True))
    np.testing.assert_array_equal(rows[factors.index("language_level")], native)


def test_counterfactuals_empty_for_client_without_needs(encoder: FeatureEncoder) -> None:
    factors, rows = encoder.encode_counterfactuals(base_profile())
    assert factors == ()
    assert rows.shape == (0, encoder.n_features_out_)


def test_counterfactuals_long_unemployment_and_low_education_count(
    encoder: FeatureEncoder,
) -> None:
    profile = base_profile(unemployment_months=14, education_level="basic")
    factors, _ = encoder.encode_counterfactuals(profile)
    assert factors == ("education_level", "unemployment_months")
    assert set(factors) <= set(DRIVER_FACTORS)


def test_encoder_pickle_round_trip_keeps_serving_path(encoder: FeatureEncoder) -> None:
    restored = pickle.loads(pickle.dumps(encoder))
    profile = base_profile(debt_problems=True, unemployment_months=30)
    np.testing.assert_array_equal(restored.encode_one(profile), encoder.encode_one(profile))


def test_layout_fingerprint_follows_names_order_and_version() -> None:
    current = feature_layout_fingerprint()
    assert current == feature_layout_fingerprint(FEATURE_NAMES, features.FEATURE_LAYOUT_VERSION)
    swapped = (FEATURE_NAMES[1], FEATURE_NAMES[0], *FEATURE_NAMES[2:])
    assert feature_layout_fingerprint(swapped) != current
    assert feature_layout_fingerprint(FEATURE_NAMES[:-1]) != current
    assert feature_layout_fingerprint(version=features.FEATURE_LAYOUT_VERSION + 1) != current


def test_encoder_check_layout_refuses_another_layout(
    encoder: FeatureEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder.check_layout()  # fitted by this code: fine
    assert encoder.layout_fingerprint == feature_layout_fingerprint()
    restored = pickle.loads(pickle.dumps(encoder))
    monkeypatch.setattr(features, "FEATURE_LAYOUT_VERSION", features.FEATURE_LAYOUT_VERSION + 1)
    with pytest.raises(FeatureLayoutError, match=r"fitted under .* layout version 1"):
        restored.check_layout()
