"""Features of the ranker: one numeric row per profile, built alike offline and online.

`FeatureEncoder.transform` encodes a typed profile frame with vectorised numpy;
`FeatureEncoder.encode_one` encodes one `ClientProfile` with plain dict lookups (no
DataFrame, no ColumnTransformer), for serving. Both fill the same columns from the same
tables, and a test holds them equal row by row.

What goes in: the need fields of the service-need assessment (`models.profile.NEED_FIELDS`),
age on the assessment date (`models.demographics.age_in_years`), labour-market status and
unemployment benefit. What never goes in: `models.profile.NEVER_FEATURES` (client id,
henkilötunnus, gender, mother tongue). Foreign-language status is left out too, because it is
mother tongue by another name; the Finnish/Swedish level carries the need it stands for.

Counterfactual encodings serve the drivers: the same profile with one need or barrier set to
its no-barrier value (`DRIVER_REFERENCE`), so the model can say what the effect would be for
this client without that need.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from models.demographics import age_in_years
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
_LANGUAGE_RANK: Final = {level: i for i, level in enumerate(LANGUAGE_LEVELS)}
_EDUCATION_RANK: Final = {level: i for i, level in enumerate(EDUCATION_LEVELS)}

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
_LOOKUP_ATTRIBUTES: Final = (
    "_flag_columns",
    "_level_columns",
    "_band_columns",
    "_threshold_columns",
    "_extra_columns",
    "_mean",
    "_scale",
    "_cap",
)


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
        raw = self._numeric_raw(X)
        self.numeric_mean_ = raw.mean(axis=0)
        scale = raw.std(axis=0)
        self.numeric_scale_ = np.where(scale > 1e-9, scale, 1.0)
        self.feature_names_out_ = FEATURE_NAMES
        self.n_features_out_ = len(FEATURE_NAMES)
        self.layout_version_ = FEATURE_LAYOUT_VERSION
        self._build_lookup()
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

    # -- vectorised path -------------------------------------------------------------------

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode a typed profile frame; returns float64 of shape (n_rows, n_features_out_).

        Raises
        ------
        ValueError
            A needed column is missing, or a row holds a missing or unknown value (the
            message names the 1-based row and the field).
        """
        check_is_fitted(self, "numeric_mean_")
        raw = self._numeric_raw(X)
        n = len(X)
        out = np.zeros((n, self.n_features_out_), dtype=np.float64)
        capped = np.minimum(raw, self._caps)
        out[:, :3] = (capped - self.numeric_mean_) / self.numeric_scale_
        age = raw[:, 0]
        col = 3
        for _, low, high in AGE_BANDS:
            out[:, col] = (age >= low) & (age < high)
            col += 1
        months = _number_column(X, "unemployment_months")
        for _, threshold in UNEMPLOYMENT_THRESHOLDS:
            out[:, col] = months >= threshold
            col += 1
        flags = np.column_stack([_bool_column(X, flag) for flag in BARRIER_FLAGS])
        n_barriers = flags.sum(axis=1)
        education = X["education_level"].to_numpy(dtype=object)
        out[:, col] = n_barriers
        out[:, col + 1] = n_barriers >= 2
        out[:, col + 2] = (age < YOUTH_AGE_LIMIT) & np.isin(education, WITHOUT_VOCATIONAL)
        # Ordinal views of the language and education levels: one slope per service instead
        # of one coefficient per level, so small services can still learn a trend.
        language = _category_codes(X, "language_level", LANGUAGE_LEVELS)
        out[:, col + 3] = language / (len(LANGUAGE_LEVELS) - 1)
        out[:, col + 4] = language <= LOW_LANGUAGE_RANK
        out[:, col + 5] = _category_codes(X, "education_level", EDUCATION_LEVELS) / (
            len(EDUCATION_LEVELS) - 1
        )
        col += 6
        out[:, col : col + len(BARRIER_FLAGS)] = flags
        col += len(BARRIER_FLAGS)
        rows = np.arange(n)
        for field, levels in CATEGORICAL_LEVELS.items():
            codes = _category_codes(X, field, levels)
            out[rows, col + codes] = 1.0
            col += len(levels)
        return out

    def _numeric_raw(self, X: pd.DataFrame) -> np.ndarray:
        missing = [c for c in FEATURE_SOURCE_COLUMNS if c not in X.columns]
        if missing:
            raise ValueError(f"profile frame lacks column(s) {', '.join(missing)}")
        birth = _date_column(X, "birth_date")
        on = _date_column(X, "assessment_date")
        age = age_in_years(birth, on).astype(np.float64)
        months = _number_column(X, "unemployment_months")
        experience = _number_column(X, "work_experience_years")
        return np.column_stack([age, months / 12.0, experience])

    @property
    def _caps(self) -> np.ndarray:
        return np.array([NUMERIC_CAPS[name] for name in NUMERIC_FEATURES])

    # -- one-profile path ------------------------------------------------------------------

    def _build_lookup(self) -> None:
        # Column index of every (field, value): serving reads these with dict lookups only.
        index = {name: i for i, name in enumerate(FEATURE_NAMES)}
        self._flag_columns = tuple((flag, index[flag]) for flag in BARRIER_FLAGS)
        self._level_columns = {
            field: {level: index[f"{field}={level}"] for level in levels}
            for field, levels in CATEGORICAL_LEVELS.items()
        }
        self._band_columns = tuple((index[band], low, high) for band, low, high in AGE_BANDS)
        self._threshold_columns = tuple(
            (index[name], threshold) for name, threshold in UNEMPLOYMENT_THRESHOLDS
        )
        self._extra_columns = (
            index["n_barriers"],
            index["two_plus_barriers"],
            index["young_without_vocational"],
            index["language_rank"],
            index["low_language"],
            index["education_rank"],
        )
        self._mean = tuple(float(v) for v in self.numeric_mean_)
        self._scale = tuple(float(v) for v in self.numeric_scale_)
        self._cap = tuple(NUMERIC_CAPS[name] for name in NUMERIC_FEATURES)

    def __getstate__(self) -> dict[str, object]:
        # Lookup tables are derived; rebuild them on load rather than pickling them.
        state = dict(super().__getstate__())
        for key in _LOOKUP_ATTRIBUTES:
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        super().__setstate__(state)
        if "numeric_mean_" in state:
            self._build_lookup()

    def encode_one(self, profile: ClientProfile) -> np.ndarray:
        """Encode one profile (the serving path); equal to `transform` on a one-row frame.

        Raises
        ------
        ValueError
            A categorical field holds an unknown value.
        """
        check_is_fitted(self, "numeric_mean_")
        out = np.zeros(self.n_features_out_, dtype=np.float64)
        self._fill_one(out, profile.to_record())
        return out

    def _fill_one(self, out: np.ndarray, record: dict[str, Any]) -> None:
        age = float(age_in_years(record["birth_date"], record["assessment_date"])[()])
        months = float(record["unemployment_months"])
        experience = float(record["work_experience_years"])
        for i, value in enumerate((age, months / 12.0, experience)):
            out[i] = (min(value, self._cap[i]) - self._mean[i]) / self._scale[i]
        for column, low, high in self._band_columns:
            out[column] = 1.0 if low <= age < high else 0.0
        for column, threshold in self._threshold_columns:
            out[column] = 1.0 if months >= threshold else 0.0
        n_barriers = 0
        for flag, column in self._flag_columns:
            if record[flag]:
                out[column] = 1.0
                n_barriers += 1
            else:
                out[column] = 0.0
        count, two_plus, youth, language, low_language, education = self._extra_columns
        out[count] = float(n_barriers)
        out[two_plus] = 1.0 if n_barriers >= 2 else 0.0
        young = age < YOUTH_AGE_LIMIT and record["education_level"] in WITHOUT_VOCATIONAL
        out[youth] = 1.0 if young else 0.0
        # Unknown levels fall through here and are reported by the one-hot lookup below.
        language_rank = _LANGUAGE_RANK.get(record["language_level"], 0)
        out[language] = language_rank / (len(LANGUAGE_LEVELS) - 1)
        out[low_language] = 1.0 if language_rank <= LOW_LANGUAGE_RANK else 0.0
        education_rank = _EDUCATION_RANK.get(record["education_level"], 0)
        out[education] = education_rank / (len(EDUCATION_LEVELS) - 1)
        for field, columns in self._level_columns.items():
            value = record[field]
            try:
                out[columns[value]] = 1.0
            except KeyError:
                raise ValueError(
                    f"{field}: unknown value {value!r}; expected one of {', '.join(columns)}"
                ) from None

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
        check_is_fitted(self, "numeric_mean_")
        candidates = DRIVER_FACTORS if factors is None else tuple(factors)
        unknown = [f for f in candidates if f not in DRIVER_REFERENCE]
        if unknown:
            raise ValueError(f"no driver reference for factor(s) {', '.join(unknown)}")
        present = tuple(f for f in candidates if has_need(profile, f))
        rows = np.zeros((len(present), self.n_features_out_), dtype=np.float64)
        record = profile.to_record()
        for i, factor in enumerate(present):
            changed = dict(record)
            changed[factor] = DRIVER_REFERENCE[factor]
            self._fill_one(rows[i], changed)
        return present, rows


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
