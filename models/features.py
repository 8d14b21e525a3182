"""Features of the ranker: one numeric row per profile, built alike offline and online.

One implementation computes every column (`_encode`, vectorised numpy) from the source
values of n profiles (`_Sources`). Two readers feed it: `_frame_sources` reads a typed
profile frame (`FeatureEncoder.transform`, validating, errors name row and field), and
`_profile_sources`, the serving path, reads `ClientProfile` records with plain lookups (no
DataFrame: building one costs more than the whole recommendation). A property test holds
the two readers equal on arbitrary profiles.

What goes in: the need fields of the service-need assessment (`models.profile.NEED_FIELDS`),
age on the assessment date (`models.demographics.age_in_years`), labour-market status and
unemployment benefit, and the service history (`models.history`, the last columns). What
never goes in: `models.profile.NEVER_FEATURES` (client id, henkilötunnus, gender, mother
tongue). Foreign-language status is left out too, because it is
mother tongue by another name; the Finnish/Swedish level carries the need it stands for.

Counterfactual encodings serve the drivers: the same profile with one need or barrier set to
its no-barrier value (`DRIVER_REFERENCE`), so the model can say what the effect would be for
this client without that need.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from models.demographics import age_in_years
from models.history import (
    HISTORY_FEATURE_NAMES,
    frame_history_sources,
    history_columns,
    record_history_sources,
)
from models.persistence import persistable
from models.profile import (
    BARRIER_FLAGS,
    EDUCATION_LEVELS,
    ENTREPRENEURSHIP_INTERESTS,
    LABOUR_MARKET_STATUSES,
    LANGUAGE_LEVELS,
    NEVER_FEATURES,
    UNEMPLOYMENT_BENEFITS,
    WORK_ABILITIES,
    ClientProfile,
)

# Profile columns the encoder reads; nothing else of a frame is touched.
FEATURE_SOURCE_COLUMNS: Final = (
    "birth_date",
    "assessment_date",
    "labour_market_status",
    "unemployment_benefit",
    "education_level",
    "unemployment_months",
    "work_experience_years",
    "language_level",
    "work_ability",
    *BARRIER_FLAGS,
    "entrepreneurship_interest",
)
assert not set(FEATURE_SOURCE_COLUMNS) & set(NEVER_FEATURES)

# One-hot encoded categorical fields, each with its full list of levels.
CATEGORICAL_LEVELS: Final[dict[str, tuple[str, ...]]] = {
    "labour_market_status": LABOUR_MARKET_STATUSES,
    "unemployment_benefit": UNEMPLOYMENT_BENEFITS,
    "education_level": EDUCATION_LEVELS,
    "language_level": LANGUAGE_LEVELS,
    "work_ability": WORK_ABILITIES,
    "entrepreneurship_interest": ENTREPRENEURSHIP_INTERESTS,
}
# Standardised numeric features, capped so a typo-sized value cannot dominate a linear model.
NUMERIC_FEATURES: Final = ("age", "unemployment_years", "work_experience_years")
NUMERIC_CAPS: Final = {"age": 80.0, "unemployment_years": 10.0, "work_experience_years": 45.0}
# Threshold indicators where effects are known to change (youth services, long-term unemployment).
AGE_BANDS: Final = (("age_under_25", 0, 25), ("age_25_29", 25, 30), ("age_55_plus", 55, 200))
LONG_TERM_MONTHS: Final = 12
# Unemployment-length thresholds (months): short, moderately long, long-term, very long.
UNEMPLOYMENT_THRESHOLDS: Final = (
    ("unemployed_6m_plus", 6),
    ("long_term_unemployed", LONG_TERM_MONTHS),
    ("unemployed_24m_plus", 24),
)
# Youth without a vocational qualification: the group youth and education services target.
YOUTH_AGE_LIMIT: Final = 30
WITHOUT_VOCATIONAL: Final = ("none", "basic", "upper_secondary")
# A0-A2: the Finnish/Swedish levels language and integration courses are for.
LOW_LANGUAGE_RANK: Final = LANGUAGE_LEVELS.index("A2")

# The no-barrier value of each need a driver can name, and when a client "has" that need.
DRIVER_REFERENCE: Final[dict[str, object]] = {
    "language_level": "native",
    "work_ability": "full",
    "education_level": "upper_secondary",
    "unemployment_months": 0,
    **{flag: False for flag in BARRIER_FLAGS},
    "entrepreneurship_interest": "none",
}
DRIVER_FACTORS: Final = tuple(DRIVER_REFERENCE)
_LOW_EDUCATION: Final = ("none", "basic")


def has_need(profile: ClientProfile, factor: str) -> bool:
    """Whether the client has the need or barrier `factor` (so a driver may name it).

    Low education means `none` or `basic`; long unemployment means at least
    `LONG_TERM_MONTHS` months; the other factors count when they differ from
    `DRIVER_REFERENCE`.
    """
    value = getattr(profile, factor)
    if factor == "education_level":
        return value in _LOW_EDUCATION
    if factor == "unemployment_months":
        return int(value) >= LONG_TERM_MONTHS
    return bool(value != DRIVER_REFERENCE[factor])


def _feature_names() -> tuple[str, ...]:
    names: list[str] = list(NUMERIC_FEATURES)
    names += [band for band, _, _ in AGE_BANDS]
    names += [name for name, _ in UNEMPLOYMENT_THRESHOLDS]
    names += ["n_barriers", "two_plus_barriers", "young_without_vocational"]
    names += ["language_rank", "low_language", "education_rank"]
    names += list(BARRIER_FLAGS)
    for field, levels in CATEGORICAL_LEVELS.items():
        names += [f"{field}={level}" for level in levels]
    names += HISTORY_FEATURE_NAMES  # the service history (models.history), last
    return tuple(names)


FEATURE_NAMES: Final = _feature_names()
# Bump when a column keeps its name but changes meaning (a new cap, threshold or scaling):
# a model fitted under another layout would silently read the wrong numbers.
FEATURE_LAYOUT_VERSION: Final = 1


def feature_layout_fingerprint(
    names: Sequence[str] | None = None, version: int | None = None
) -> str:
    """SHA-256 hex of the feature layout: the schema version and the column names in order.

    Parameters
    ----------
    names : sequence of str, optional
        Column names (default: this code's `FEATURE_NAMES`).
    version : int, optional
        Layout version (default: this code's `FEATURE_LAYOUT_VERSION`).

    Returns
    -------
    str
        Equal for two encoders exactly when a model fitted on one can read the other's rows.
    """
    names = FEATURE_NAMES if names is None else tuple(names)
    version = FEATURE_LAYOUT_VERSION if version is None else int(version)
    text = "\n".join([f"polku-features v{version}", *names])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FeatureLayoutError(ValueError):
    """An encoder was fitted under another feature layout than the one this code encodes."""


@persistable
class FeatureEncoder(TransformerMixin, BaseEstimator):
    """Encode client profiles as numeric rows for the ranker.

    Numeric features (age, unemployment length in years, work experience) are capped and
    standardised with the mean and standard deviation seen in `fit`; barrier flags are 0/1;
    categorical fields are one-hot over their full list of levels (so an unseen level is
    still a known column); a few threshold indicators (age bands, long-term unemployed)
    let a linear model bend where effects are known to change.

    Attributes
    ----------
    feature_names_out_ : tuple of str
        Column names, in order.
    n_features_out_ : int
    numeric_mean_, numeric_scale_ : ndarray of shape (3,)
        Standardisation of `NUMERIC_FEATURES`.
    layout_version_ : int
        `FEATURE_LAYOUT_VERSION` of the code that fitted the encoder.

    Examples
    --------
    >>> encoder = FeatureEncoder().fit(frame)  # doctest: +SKIP
    >>> encoder.transform(frame).shape == (len(frame), encoder.n_features_out_)  # doctest: +SKIP
    True
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> FeatureEncoder:
        """Learn the standardisation of the numeric features from a typed profile frame."""
        raw = _numeric_raw(_frame_sources(X))
        self.numeric_mean_ = raw.mean(axis=0)
        scale = raw.std(axis=0)
        self.numeric_scale_ = np.where(scale > 1e-9, scale, 1.0)
        self.feature_names_out_ = FEATURE_NAMES
        self.n_features_out_ = len(FEATURE_NAMES)
        self.layout_version_ = FEATURE_LAYOUT_VERSION
        return self

    @property
    def layout_fingerprint(self) -> str:
        """`feature_layout_fingerprint` of the layout this encoder was fitted under."""
        check_is_fitted(self, "numeric_mean_")
        return feature_layout_fingerprint(self.feature_names_out_, self.layout_version_)

    def check_layout(self) -> None:
        """Raise `FeatureLayoutError` unless this code encodes the layout the encoder was fitted on.

        A fitted encoder (and the model coefficients that go with it) from an earlier
        `models/features.py` would otherwise fail deep inside `transform` (an IndexError) or,
        worse, score shifted columns.
        """
        fitted = self.layout_fingerprint
        current = feature_layout_fingerprint()
        if fitted != current:
            raise FeatureLayoutError(
                f"the encoder was fitted under feature layout {fitted[:12]} "
                f"({len(self.feature_names_out_)} columns, layout version "
                f"{self.layout_version_}), but this code encodes layout "
                f"{current[:12]} ({len(FEATURE_NAMES)} columns, layout version "
                f"{FEATURE_LAYOUT_VERSION})"
            )

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode a typed profile frame; returns float64 of shape (n_rows, n_features_out_).

        Raises
        ------
        ValueError
            A needed column is missing, or a row holds a missing or unknown value (the
            message names the 1-based row and the field).
        """
        check_is_fitted(self, "numeric_mean_")
        return self._encode(_frame_sources(X))

    def encode_one(self, profile: ClientProfile) -> np.ndarray:
        """Encode one profile (the serving path); equal to `transform` on a one-row frame.

        Raises
        ------
        ValueError
            A categorical field holds an unknown value.
        """
        check_is_fitted(self, "numeric_mean_")
        return self._encode(_profile_sources([profile.to_record()]))[0]

    def encode_counterfactuals(
        self, profile: ClientProfile, factors: Sequence[str] | None = None
    ) -> tuple[tuple[str, ...], np.ndarray]:
        """Encode the profile once per need it has, with that one need set to no barrier.

        Parameters
        ----------
        profile : ClientProfile
        factors : sequence of str, optional
            Factors to consider (default `DRIVER_FACTORS`); only those the client has
            (`has_need`) are encoded.

        Returns
        -------
        factors : tuple of str
            The needs encoded, one per row.
        rows : ndarray of shape (len(factors), n_features_out_)
            Row i is the profile with `factors[i]` set to `DRIVER_REFERENCE[factors[i]]`.
        """
        _, present, rows = self.encode_with_counterfactuals(profile, factors)
        return present, rows

    def encode_with_counterfactuals(
        self, profile: ClientProfile, factors: Sequence[str] | None = None
    ) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
        """`encode_one` and `encode_counterfactuals` in one pass (what a recommendation needs).

        Returns
        -------
        row : ndarray of shape (n_features_out_,)
        factors : tuple of str
        rows : ndarray of shape (len(factors), n_features_out_)
        """
        check_is_fitted(self, "numeric_mean_")
        candidates = DRIVER_FACTORS if factors is None else tuple(factors)
        unknown = [f for f in candidates if f not in DRIVER_REFERENCE]
        if unknown:
            raise ValueError(f"no driver reference for factor(s) {', '.join(unknown)}")
        present = tuple(f for f in candidates if has_need(profile, f))
        record = profile.to_record()
        records = [record, *({**record, f: DRIVER_REFERENCE[f]} for f in present)]
        encoded = self._encode(_profile_sources(records))
        return encoded[0], present, encoded[1:]

    def transform_with_counterfactuals(
        self, X: pd.DataFrame, factors: Sequence[str] | None = None
    ) -> tuple[np.ndarray, tuple[str, ...], Iterator[tuple[np.ndarray, np.ndarray]]]:
        """`transform` and, per factor, the rows that have that need with it set to no barrier.

        The frame version of `encode_with_counterfactuals` (nightly batches): the frame is
        read once, and each factor's counterfactuals are one vectorised encoding of the rows
        that have the need (a driver can only name a need the client has).

        Returns
        -------
        rows : ndarray of shape (n, n_features_out_)
        factors : tuple of str
            The factors considered (default `DRIVER_FACTORS`), in order.
        counterfactuals : iterator of (index, rows)
            One pair per factor, lazily (bounds memory): `index`, the positions of the rows
            that have the need (`has_need`), ascending, and `rows` of shape
            (len(index), n_features_out_), those rows encoded with the factor set to
            `DRIVER_REFERENCE[factor]`.
        """
        check_is_fitted(self, "numeric_mean_")
        candidates = DRIVER_FACTORS if factors is None else tuple(factors)
        unknown = [f for f in candidates if f not in DRIVER_REFERENCE]
        if unknown:
            raise ValueError(f"no driver reference for factor(s) {', '.join(unknown)}")
        sources = _frame_sources(X)

        def each() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for factor in candidates:
                index, changed = _without_need(sources, factor)
                yield index, self._encode(changed)

        return self._encode(sources), candidates, each()

    def _encode(self, sources: _Sources) -> np.ndarray:
        # The fitted width, not this code's: an encoder of another layout fails loudly.
        return _encode(sources, self.numeric_mean_, self.numeric_scale_, self.n_features_out_)


@dataclass(frozen=True, slots=True)
class _Sources:
    """What the features are computed from, for n profiles (valid values only).

    Attributes
    ----------
    age, unemployment_months, work_experience_years : float64 ndarray (n,)
    flags : float64 ndarray (n, len(BARRIER_FLAGS))
        The barrier flags as 0/1.
    codes : int64 ndarray (n, len(CATEGORICAL_LEVELS))
        Per categorical field (in `CATEGORICAL_LEVELS` order), the index of the value among
        its levels.
    history : float64 ndarray (n, 2)
        The service history's sources (`models.history.history_columns`).
    """

    age: np.ndarray
    unemployment_months: np.ndarray
    work_experience_years: np.ndarray
    flags: np.ndarray
    codes: np.ndarray
    history: np.ndarray


# Where each group of columns sits (from `FEATURE_NAMES`), and the constants `_encode` compares
# against, as arrays so that a group takes one numpy operation whatever n is.
_COLUMN: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}
_CAPS: Final = np.array([NUMERIC_CAPS[name] for name in NUMERIC_FEATURES])
_BANDS: Final = slice(_COLUMN[AGE_BANDS[0][0]], _COLUMN[AGE_BANDS[-1][0]] + 1)
_BAND_LOW: Final = np.array([low for _, low, _ in AGE_BANDS], dtype=np.float64)
_BAND_HIGH: Final = np.array([high for _, _, high in AGE_BANDS], dtype=np.float64)
_THRESHOLD_COLUMNS: Final = slice(
    _COLUMN[UNEMPLOYMENT_THRESHOLDS[0][0]], _COLUMN[UNEMPLOYMENT_THRESHOLDS[-1][0]] + 1
)
_THRESHOLDS: Final = np.array([t for _, t in UNEMPLOYMENT_THRESHOLDS], dtype=np.float64)
_FLAG_COLUMNS: Final = slice(_COLUMN[BARRIER_FLAGS[0]], _COLUMN[BARRIER_FLAGS[-1]] + 1)
_FIELDS: Final = tuple(CATEGORICAL_LEVELS)
_LEVEL_OFFSETS: Final = np.array(
    [_COLUMN[f"{field}={levels[0]}"] for field, levels in CATEGORICAL_LEVELS.items()]
)
_EDUCATION: Final = _FIELDS.index("education_level")
_LANGUAGE: Final = _FIELDS.index("language_level")
_WITHOUT_VOCATIONAL_BY_CODE: Final = np.isin(EDUCATION_LEVELS, WITHOUT_VOCATIONAL)
_HISTORY_COLUMNS: Final = slice(
    _COLUMN[HISTORY_FEATURE_NAMES[0]], _COLUMN[HISTORY_FEATURE_NAMES[-1]] + 1
)
assert [_COLUMN[n] for n in NUMERIC_FEATURES] == [0, 1, 2]


def _numeric_raw(sources: _Sources) -> np.ndarray:
    """The uncapped, unscaled `NUMERIC_FEATURES`, (n, 3)."""
    return np.column_stack(
        [sources.age, sources.unemployment_months / 12.0, sources.work_experience_years]
    )


def _encode(sources: _Sources, mean: np.ndarray, scale: np.ndarray, n_columns: int) -> np.ndarray:
    """Every feature column, in `FEATURE_NAMES` order: the one definition of the features."""
    age = sources.age
    n = len(age)
    out = np.zeros((n, n_columns), dtype=np.float64)
    out[:, :3] = (np.minimum(_numeric_raw(sources), _CAPS) - mean) / scale
    out[:, _BANDS] = (age[:, None] >= _BAND_LOW) & (age[:, None] < _BAND_HIGH)
    out[:, _THRESHOLD_COLUMNS] = sources.unemployment_months[:, None] >= _THRESHOLDS
    n_barriers = sources.flags.sum(axis=1)
    out[:, _COLUMN["n_barriers"]] = n_barriers
    out[:, _COLUMN["two_plus_barriers"]] = n_barriers >= 2
    education = sources.codes[:, _EDUCATION]
    out[:, _COLUMN["young_without_vocational"]] = (age < YOUTH_AGE_LIMIT) & (
        _WITHOUT_VOCATIONAL_BY_CODE[education]
    )
    # Ordinal views of the language and education levels: one slope per service instead
    # of one coefficient per level, so small services can still learn a trend.
    language = sources.codes[:, _LANGUAGE]
    out[:, _COLUMN["language_rank"]] = language / (len(LANGUAGE_LEVELS) - 1)
    out[:, _COLUMN["low_language"]] = language <= LOW_LANGUAGE_RANK
    out[:, _COLUMN["education_rank"]] = education / (len(EDUCATION_LEVELS) - 1)
    out[:, _FLAG_COLUMNS] = sources.flags
    out[np.arange(n)[:, None], _LEVEL_OFFSETS + sources.codes] = 1.0
    out[:, _HISTORY_COLUMNS] = history_columns(sources.history)
    return out


def _without_need(sources: _Sources, factor: str) -> tuple[np.ndarray, _Sources]:
    """The rows that have the need `factor` (as `has_need`), and their sources without it."""
    reference = DRIVER_REFERENCE[factor]
    if factor == "unemployment_months":
        index = np.flatnonzero(sources.unemployment_months >= LONG_TERM_MONTHS)
        changed = _take(sources, index)
        months = np.full_like(changed.unemployment_months, reference)
        return index, dataclasses.replace(changed, unemployment_months=months)
    if factor in BARRIER_FLAGS:
        j = BARRIER_FLAGS.index(factor)
        value = float(bool(reference))
        index = np.flatnonzero(sources.flags[:, j] != value)
        changed = _take(sources, index)
        changed.flags[:, j] = value
        return index, changed
    j = _FIELDS.index(factor)
    levels = CATEGORICAL_LEVELS[factor]
    code = levels.index(str(reference))
    if factor == "education_level":
        has = np.isin(sources.codes[:, j], [levels.index(level) for level in _LOW_EDUCATION])
    else:
        has = sources.codes[:, j] != code
    index = np.flatnonzero(has)
    changed = _take(sources, index)
    changed.codes[:, j] = code
    return index, changed


def _take(sources: _Sources, index: np.ndarray) -> _Sources:
    """The sources of the rows at `index` (copies)."""
    return _Sources(
        age=sources.age[index],
        unemployment_months=sources.unemployment_months[index],
        work_experience_years=sources.work_experience_years[index],
        flags=sources.flags[index],
        codes=sources.codes[index],
        history=sources.history[index],
    )


# -- the frame reader (training, evaluation, batches) ------------------------------------------


def _frame_sources(X: pd.DataFrame) -> _Sources:
    missing = [c for c in FEATURE_SOURCE_COLUMNS if c not in X.columns]
    if missing:
        raise ValueError(f"profile frame lacks column(s) {', '.join(missing)}")
    birth = _date_column(X, "birth_date")
    on = _date_column(X, "assessment_date")
    return _Sources(
        age=age_in_years(birth, on).astype(np.float64),
        unemployment_months=_number_column(X, "unemployment_months"),
        work_experience_years=_number_column(X, "work_experience_years"),
        flags=np.column_stack([_bool_column(X, flag) for flag in BARRIER_FLAGS]),
        codes=np.column_stack(
            [_category_codes(X, field, levels) for field, levels in CATEGORICAL_LEVELS.items()]
        ),
        history=frame_history_sources(X),
    )


def _date_column(X: pd.DataFrame, field: str) -> np.ndarray:
    values = pd.to_datetime(X[field], errors="coerce").to_numpy(dtype="datetime64[D]")
    bad = np.isnat(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise ValueError(f"row {row}: {field} is missing or not a date")
    return values


def _number_column(X: pd.DataFrame, field: str) -> np.ndarray:
    values = pd.to_numeric(X[field], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise ValueError(f"row {row}: {field} must be a non-negative number")
    return values


def _bool_column(X: pd.DataFrame, field: str) -> np.ndarray:
    column = X[field]
    if column.dtype == bool:
        return column.to_numpy(dtype=np.float64)
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0]) + 1
        raise ValueError(f"row {row}: {field} is missing (expected true or false)")
    values = column.to_numpy()
    ok = np.isin(values, [True, False, 0, 1])
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0]) + 1
        raise ValueError(f"row {row}: {field} must be true or false")
    return values.astype(np.float64)


def _category_codes(X: pd.DataFrame, field: str, levels: tuple[str, ...]) -> np.ndarray:
    codes = pd.Index(levels).get_indexer(pd.Index(X[field].to_numpy(dtype=object)))
    codes = codes.astype(np.int64)
    bad = codes < 0
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        value = X[field].iloc[row - 1]
        raise ValueError(
            f"row {row}: {field} has unknown value {value!r}; expected one of {', '.join(levels)}"
        )
    return codes


# -- the profile reader (serving) ----------------------------------------------------------


@functools.cache
def _level_codes() -> dict[str, dict[str, int]]:
    return {
        field: {level: i for i, level in enumerate(levels)}
        for field, levels in CATEGORICAL_LEVELS.items()
    }


def _profile_sources(records: Sequence[Mapping[str, Any]]) -> _Sources:
    """The serving path's reader: `_Sources` of profile records (`ClientProfile.to_record`).

    Plain lookups, no DataFrame; equal to `_frame_sources` on a frame of the same profiles
    (the property test in tests/models/test_features.py).

    Raises
    ------
    ValueError
        A categorical field holds an unknown value.
    """
    codes = np.empty((len(records), len(_FIELDS)), dtype=np.int64)
    for j, (field, lookup) in enumerate(_level_codes().items()):
        for i, record in enumerate(records):
            value = record[field]
            try:
                codes[i, j] = lookup[value]
            except (KeyError, TypeError):
                raise ValueError(
                    f"{field}: unknown value {value!r}; expected one of {', '.join(lookup)}"
                ) from None
    birth = _days([r["birth_date"] for r in records])
    on = _days([r["assessment_date"] for r in records])
    return _Sources(
        age=age_in_years(birth, on).astype(np.float64),
        unemployment_months=np.array([float(r["unemployment_months"]) for r in records]),
        work_experience_years=np.array([float(r["work_experience_years"]) for r in records]),
        flags=np.array([[1.0 if r[flag] else 0.0 for flag in BARRIER_FLAGS] for r in records]),
        codes=codes,
        history=record_history_sources(records),
    )


_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()


def _days(dates: list[dt.date]) -> np.ndarray:
    # datetime64[D] via ordinals: numpy converts date objects one by one, several times slower.
    return (np.array([d.toordinal() for d in dates], dtype=np.int64) - _EPOCH_ORDINAL).astype(
        "datetime64[D]"
    )
