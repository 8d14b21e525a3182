"""Validation at the boundary: raw profile values (CSV strings, JSON values) to typed profiles.

Each field is checked as `models.profile.PROFILE_SPEC` declares it (kind, allowed values,
default, required, pattern, bounds), then the rules that join fields. `parse_profile_frame`
checks a whole register extract column by column with array operations and collects every
problem of every row; `parse_profile` (the API, through `ProfileIn`, and the page) runs the
same checks (`_validate`) on columns of length one. Every error names the field, a stable
code (`ERROR_CODES`) and the problem. The personal identity code is used to derive the
birth date and then dropped: it never reaches the typed profile, an error message or a repr.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from models.henkilotunnus import (
    HENKILOTUNNUS_PATTERN,
    PROBLEM_MESSAGES,
    VALID,
    contains_henkilotunnus,
    parse_henkilotunnus_array,
)
from models.profile import (
    BOOL_FIELDS,
    DATE_FIELDS,
    EARLIEST_DATE,
    FLOAT_FIELDS,
    INT_FIELDS,
    LATEST_DATE,
    MAX_CLIENT_ID_LENGTH,
    MAX_UNEMPLOYMENT_MONTHS,
    MAX_WORK_EXPERIENCE_YEARS,
    PROFILE_COLUMNS,
    PROFILE_FIELDS,
    PROFILE_SPEC,
    REQUIRED_FIELDS,
    TODAY,
    ClientProfile,
    FieldSpec,
)
from models.profile_errors import (
    ERROR_CODES,
    HENKILOTUNNUS_CODES,
    FieldError,
    ProfileValidationError,
    RowError,
)

__all__ = [
    "EARLIEST_DATE",
    "ERROR_CODES",
    "HENKILOTUNNUS_CODES",
    "LATEST_DATE",
    "MAX_CLIENT_ID_LENGTH",
    "MAX_UNEMPLOYMENT_MONTHS",
    "MAX_WORK_EXPERIENCE_YEARS",
    "REQUIRED_FIELDS",
    "FieldError",
    "ProfileFrame",
    "ProfileValidationError",
    "RowError",
    "parse_profile",
    "parse_profile_frame",
    "profile_from_row",
    "profiles_to_frame",
]

_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE_NUMBER: Final = re.compile(r"[0-9]+")
_FIELD_ORDER: Final = {name: k for k, name in enumerate(PROFILE_FIELDS)}

# Speed regimes, all of them here. The number of rows decides only HOW a check runs, never
# what it finds: every rule is written once, on columns, and one profile is a column of one
# (tests/service/test_profile_vocabulary.py proves one row and a big extract agree).
# Up to `_PER_CELL_ROWS` rows (one API request, a small batch) plain Python per cell beats
# numpy's per-call overhead; over `_FEW_ROWS`, pandas' compiled string kernels beat Python's
# string methods; in between, numpy arrays of Python strings.
_PER_CELL_ROWS: Final = 16
_FEW_ROWS: Final = 256


def _per_cell(n_rows: int) -> bool:
    return n_rows <= _PER_CELL_ROWS


def _kernels(text: np.ndarray) -> pd.Series | None:
    """`text` as a pandas string column when it is long enough for the string kernels."""
    return pd.Series(text, dtype="str") if len(text) > _FEW_ROWS else None


@dataclass(frozen=True)
class ProfileFrame:
    """The result of validating a register extract.

    Attributes
    ----------
    frame : pandas.DataFrame
        The valid rows as a typed profile frame (columns `PROFILE_COLUMNS`; dates
        datetime64[ns] with NaT where missing, bools bool, enums str, `unemployment_months`
        int64, `work_experience_years` float64, `gender` str or missing). Rows with any
        error are left out; the index is the input's, so rows can be matched back.
    errors : list of RowError
        Every problem of every row, by row and then field order.
    """

    frame: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row had an error."""
        return not self.errors


def quote_value(value: object) -> str:
    """A value for an error message, never a personal identity code (every boundary's quoting)."""
    text = str(value)
    if contains_henkilotunnus(text):
        return "(a value shaped like a henkilötunnus, not shown)"
    return repr(text if len(text) <= 40 else text[:37] + "...")


class _Collector:
    """Gathers (row position, field, message, code) while columns are checked."""

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows
        self.items: list[tuple[int, int, str, str, str]] = []
        self.bad = np.zeros(n_rows, dtype=bool)

    def add(self, mask: np.ndarray, field_name: str, code: str, message: str | list[str]) -> None:
        if not np.count_nonzero(mask):  # the usual case; cheaper than mask.any() on a few rows
            return
        rows = np.flatnonzero(mask)
        self.bad[rows] = True
        order = _FIELD_ORDER.get(field_name, len(_FIELD_ORDER))
        if isinstance(message, str):
            self.items.extend((int(r), order, field_name, message, code) for r in rows)
        else:
            self.items.extend(
                (int(r), order, field_name, m, code) for r, m in zip(rows, message, strict=True)
            )

    def add_each(
        self,
        mask: np.ndarray,
        field_name: str,
        code: str,
        values: np.ndarray,
        describe: Callable[[Any], str],
    ) -> None:
        """`add` with one message per flagged row, `describe(value)`, built only when needed."""
        if np.count_nonzero(mask):
            self.add(mask, field_name, code, [describe(v) for v in values[mask]])

    def row_errors(self) -> list[RowError]:
        return [
            RowError(row + 1, name, msg, code) for row, _, name, msg, code in sorted(self.items)
        ]


@dataclass
class _Column:
    """A raw column split into missing, text and other values."""

    values: np.ndarray  # object
    missing: np.ndarray  # bool
    is_text: np.ndarray  # bool, non-missing strings
    text: np.ndarray  # object: stripped strings, "" where not text
    all_text: bool  # no value other than text or missing (the usual CSV case)
    # Strings JSON carried with a lone surrogate: not UTF-8, so no kernel or key can take
    # them. Their surrogates are replaced in `values` and `text` (the row is an error anyway).
    unencodable: np.ndarray | None = None


class _Source:
    """Raw columns by name (pandas Series or object arrays), each split into a `_Column` once."""

    def __init__(
        self, columns: Mapping[str, pd.Series | np.ndarray] | pd.DataFrame, n_rows: int
    ) -> None:
        self.columns = columns
        self.n_rows = n_rows
        self._split: dict[str, _Column] = {}

    def __getitem__(self, name: str) -> _Column:
        if name not in self._split:
            raw = self.columns.get(name)
            self._split[name] = _split_column(raw, self.n_rows)
        return self._split[name]


def _utf8_encodable(values: np.ndarray) -> np.ndarray:
    """False where a value is a string that cannot be written as UTF-8 (JSON can carry lone
    surrogates); text read from a file was decoded from UTF-8 and cannot."""

    def encodable(v: object) -> bool:
        if not isinstance(v, str) or v.isascii():
            return True
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True

    return np.fromiter((encodable(v) for v in values), bool, len(values))


def _split_column(raw: pd.Series | np.ndarray | None, n: int) -> _Column:
    # Only Python strings can hold a lone surrogate: a file's text was decoded from UTF-8.
    if raw is not None and raw.dtype == object:
        values = raw.to_numpy() if isinstance(raw, pd.Series) else raw
        unencodable = ~_utf8_encodable(values)
        if unencodable.any():
            cleaned = values.copy()
            cleaned[unencodable] = [
                v.encode("utf-8", "replace").decode("utf-8") for v in values[unencodable]
            ]
            return replace(_split_column(cleaned, n), unencodable=unencodable)
    if raw is None:
        return _Column(
            np.full(n, None, dtype=object),
            np.ones(n, dtype=bool),
            np.zeros(n, dtype=bool),
            np.full(n, "", dtype=object),
            all_text=True,
        )
    if isinstance(raw, pd.Series) and isinstance(raw.dtype, pd.StringDtype):
        # A text column (CSV read with dtype=str): string kernels, no per-cell Python.
        values = raw.to_numpy(dtype=object)
        is_na = np.asarray(raw.isna(), dtype=bool)
        is_str = ~is_na
        text = raw.str.strip().fillna("").to_numpy(dtype=object)
        all_text = True
    elif _per_cell(n):
        # A few cells (one API request): one pass in plain Python, same split as below.
        values = raw.to_numpy(dtype=object) if isinstance(raw, pd.Series) else raw
        is_na = _is_missing(values).tolist()
        stripped = [v.strip() if isinstance(v, str) else None for v in values]
        text = np.empty(n, dtype=object)
        text[:] = ["" if t is None else t for t in stripped]
        missing = [na or t == "" for na, t in zip(is_na, stripped, strict=True)]
        return _Column(
            values,
            np.array(missing, dtype=bool),
            np.array(
                [t is not None and not m for t, m in zip(stripped, missing, strict=True)],
                dtype=bool,
            ),
            text,
            all_text=all(na or t is not None for na, t in zip(is_na, stripped, strict=True)),
        )
    else:
        values = raw.to_numpy(dtype=object) if isinstance(raw, pd.Series) else raw
        is_na = _is_missing(values)
        is_str = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=n)
        text = np.full(n, "", dtype=object)
        if is_str.any():
            text[is_str] = _strip(values[is_str])
        all_text = bool((is_str | is_na).all())
    missing = is_na | (is_str & (text == ""))
    return _Column(values, missing, is_str & ~missing, text, all_text=all_text)


def _is_missing(values: np.ndarray) -> np.ndarray:
    """`pandas.isna` of an object array. A few plain JSON values (one API request) are checked
    directly: for None, str, int, bool and float, `pandas.isna` is exactly "None or NaN"."""
    n = len(values)
    if _per_cell(n) and all(v is None or isinstance(v, str | int | float) for v in values):
        return np.fromiter((v is None or v != v for v in values), dtype=bool, count=n)
    return np.asarray(pd.isna(values), dtype=bool)


# String helpers on object arrays of str (the regime is `_kernels`'s to choose).


def _strip(text: np.ndarray) -> np.ndarray:
    series = _kernels(text)
    if series is not None:
        return series.str.strip().to_numpy(dtype=object)
    out = np.empty(len(text), dtype=object)
    out[:] = [s.strip() for s in text]
    return out


def _lower(text: np.ndarray) -> np.ndarray:
    series = _kernels(text)
    if series is not None:
        return series.str.lower().to_numpy(dtype=object)
    out = np.empty(len(text), dtype=object)
    out[:] = [s.lower() for s in text]
    return out


def _matches(text: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
    """True where the whole string matches `pattern`."""
    series = _kernels(text)
    if series is not None:
        return np.asarray(series.str.fullmatch(pattern.pattern), dtype=bool)
    return np.fromiter((pattern.fullmatch(s) is not None for s in text), bool, len(text))


def _contains(text: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
    series = _kernels(text)
    if series is not None:
        return np.asarray(series.str.contains(pattern.pattern), dtype=bool)
    return np.fromiter((pattern.search(s) is not None for s in text), bool, len(text))


# Text made only of these can hold a code only undisguised (the plain pattern finds it).
_NOT_PLAIN: Final = re.compile(r"[^A-Za-z0-9_.:-]")


def _holds_code(text: np.ndarray) -> np.ndarray:
    """True where the string holds a code, however lightly disguised, as
    `contains_henkilotunnus` judges: the vectorised pattern first, the matcher itself only
    for the strings with a character outside plain ASCII ids (spaces, full width, marks)."""
    found = _contains(text, HENKILOTUNNUS_PATTERN).copy()  # the kernels answer read-only
    unsure = np.flatnonzero(~found & _contains(text, _NOT_PLAIN))
    found[unsure] = [contains_henkilotunnus(s) for s in text[unsure]]
    return found


def _one_of(text: np.ndarray, allowed: tuple[str, ...]) -> np.ndarray:
    """True where the string is one of `allowed`."""
    if _per_cell(len(text)):
        return np.fromiter((s in allowed for s in text), dtype=bool, count=len(text))
    known = np.zeros(len(text), dtype=bool)
    for value in allowed:
        known |= text == value
    return known


def _lengths(text: np.ndarray) -> np.ndarray:
    series = _kernels(text)
    if series is not None:
        return np.asarray(series.str.len(), dtype=np.int64)
    return np.fromiter((len(s) for s in text), np.int64, len(text))


def _iso_date_parts(text: np.ndarray) -> list[np.ndarray]:
    """Year, month and day of strings already shaped YYYY-MM-DD."""
    spans = ((0, 4), (5, 7), (8, 10))
    series = _kernels(text)
    if series is not None:
        return [series.str.slice(a, b).astype(np.int64).to_numpy() for a, b in spans]
    return [np.fromiter((int(s[a:b]) for s in text), np.int64, len(text)) for a, b in spans]


def _not_text(column: _Column) -> np.ndarray:
    return ~column.missing & ~column.is_text


def _require(errors: _Collector, column: _Column, name: str) -> None:
    errors.add(column.missing, name, "missing", "missing (required)")


def _parse_text(errors: _Collector, column: _Column, spec: FieldSpec) -> None:
    if spec.required:
        _require(errors, column, spec.name)
    errors.add(_not_text(column), spec.name, "not_text", f"must be text ({spec.hint})")


def _parse_id(errors: _Collector, source: _Source, spec: FieldSpec) -> np.ndarray:
    column = source[spec.name]
    _parse_text(errors, column, spec)
    errors.add(
        column.is_text & _holds_code(column.text),
        spec.name,
        "looks_like_henkilotunnus",
        "looks like a henkilötunnus; use a pseudonymous client id",
    )
    if spec.max_length is not None:
        too_long = column.is_text & (_lengths(column.text) > spec.max_length)
        errors.add(too_long, spec.name, "too_long", f"longer than {spec.max_length} characters")
    return column.text


def _parse_code(errors: _Collector, source: _Source, spec: FieldSpec) -> np.ndarray:
    """A short code that must match the field's pattern (kept in lower case, if declared)."""
    assert spec.pattern is not None
    column = source[spec.name]
    _parse_text(errors, column, spec)
    bad = column.is_text & ~_matches(column.text, _compiled(spec.pattern))
    describe = _describe_with(f"must be {spec.hint}")
    errors.add_each(bad, spec.name, "bad_pattern", column.text, describe)
    return _lower(column.text) if spec.lowercase else column.text


def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _describe_with(problem: str) -> Callable[[Any], str]:
    return lambda v: f"{problem}, got {quote_value(v)}"


def _parse_enum(errors: _Collector, source: _Source, spec: FieldSpec) -> np.ndarray:
    allowed = spec.values
    column = source[spec.name]
    _parse_text(errors, column, spec)
    unknown = column.is_text & ~_one_of(column.text, allowed)
    errors.add_each(
        unknown,
        spec.name,
        "not_allowed_value",
        column.text,
        lambda v: f"unknown value {quote_value(v)}; allowed: {', '.join(allowed)}",
    )
    out = column.text.copy()
    out[column.missing] = spec.default
    return out


def _parse_bool(errors: _Collector, source: _Source, spec: FieldSpec) -> np.ndarray:
    column = source[spec.name]
    values = column.values
    is_true = np.zeros(len(values), dtype=bool)
    is_false = np.zeros(len(values), dtype=bool)
    if column.is_text.any():  # CSV text; JSON sends bools
        lowered = _lower(column.text)
        is_true |= column.is_text & (lowered == "true")
        is_false |= column.is_text & (lowered == "false")
    if not column.all_text:
        is_bool = np.fromiter(
            (isinstance(v, bool | np.bool_) for v in values), dtype=bool, count=len(values)
        )
        is_true |= is_bool & (values == True)  # noqa: E712
        is_false |= is_bool & (values == False)  # noqa: E712
    bad = ~column.missing & ~is_true & ~is_false
    errors.add_each(
        bad, spec.name, "not_bool", values, lambda v: f"must be true or false, got {quote_value(v)}"
    )
    if spec.required:
        _require(errors, column, spec.name)
    else:
        is_true = is_true | (column.missing & bool(spec.default))
    return is_true


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    return ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)


def _calendar_days(values: np.ndarray) -> np.ndarray:
    """Real dates or timestamps as the calendar day they name, datetime64[D].

    A timestamp with a time zone (Parquet's `timestamp[tz=Europe/Helsinki]`) names the day
    on its own clock: converting it to UTC first would move a local midnight to the day
    before, and an assessment on 2021-03-01 out of the experiment.
    """
    if values.dtype.kind == "M":
        return values.astype("datetime64[D]")
    return np.array(
        [np.datetime64(v.date() if isinstance(v, dt.datetime) else v, "D") for v in values],
        dtype="datetime64[D]",
    )


def _parse_date(errors: _Collector, source: _Source, spec: FieldSpec) -> np.ndarray:
    """Dates as datetime64[D] (NaT where missing or invalid)."""
    name = spec.name
    column = source[name]
    n = source.n_rows
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")

    # JSON or Parquet may hand over real dates.
    is_date = np.zeros(n, dtype=bool)
    if not column.all_text:
        is_date = (
            np.fromiter(
                (isinstance(v, dt.date | np.datetime64) for v in column.values),
                dtype=bool,
                count=n,
            )
            & ~column.missing
        )
    if is_date.any():
        out[is_date] = _calendar_days(column.values[is_date])
    other = ~column.missing & ~column.is_text & ~is_date
    errors.add(other, name, "bad_date", "must be an ISO date YYYY-MM-DD")

    shaped = column.is_text & _matches(column.text, _ISO_DATE)
    errors.add_each(
        column.is_text & ~shaped,
        name,
        "bad_date",
        column.text,
        lambda v: f"must be an ISO date YYYY-MM-DD, got {quote_value(v)}",
    )
    if shaped.any():
        year, month, day = _iso_date_parts(column.text[shaped])
        month_ok = (month >= 1) & (month <= 12)
        safe_month = np.where(month_ok, month, 1)
        exists = month_ok & (day >= 1) & (day <= _days_in_month(year, safe_month))
        dates = ((year - 1970) * 12 + safe_month - 1).astype("datetime64[M]").astype(
            "datetime64[D]"
        ) + (np.where(exists, day, 1) - 1).astype("timedelta64[D]")
        rows = np.flatnonzero(shaped)
        impossible = np.zeros(n, dtype=bool)
        impossible[rows[~exists]] = True
        errors.add_each(
            impossible,
            name,
            "impossible_date",
            column.text,
            lambda v: f"impossible date {quote_value(v)}",
        )
        out[rows[exists]] = dates[exists]

    assert spec.bounds is not None
    earliest, latest = spec.bounds
    in_range = (out >= np.datetime64(earliest, "D")) & (out <= np.datetime64(latest, "D"))
    out_of_range = ~np.isnat(out) & ~in_range
    errors.add(
        out_of_range,
        name,
        "out_of_range",
        f"date out of range ({earliest.isoformat()} to {latest.isoformat()})",
    )
    out[out_of_range] = np.datetime64("NaT")
    return out


def _as_float(value: Any) -> float:
    """A JSON number as a float; a whole number too large for one is merely out of range."""
    try:
        return float(value)
    except OverflowError:
        return sys.float_info.max if value > 0 else -sys.float_info.max


def _parse_number(errors: _Collector, source: _Source, spec: FieldSpec) -> np.ndarray:
    name = spec.name
    whole = spec.kind == "whole"
    assert spec.bounds is not None
    lower, upper = spec.bounds
    default = float(spec.default)
    column = source[name]
    n = source.n_rows
    out = np.full(n, default, dtype=np.float64)
    is_number = np.zeros(n, dtype=bool)
    if not column.all_text:
        is_number = (
            np.fromiter(
                (
                    isinstance(v, int | float | np.integer | np.floating)
                    and not isinstance(v, bool | np.bool_)
                    for v in column.values
                ),
                dtype=bool,
                count=n,
            )
            & ~column.missing
        )
    if is_number.any():
        out[is_number] = [_as_float(v) for v in column.values[is_number]]
    text_rows = np.flatnonzero(column.is_text)
    if text_rows.size:  # JSON numbers (the API's case) need no text parsing
        parsed = pd.to_numeric(pd.Series(column.text[text_rows], dtype=object), errors="coerce")
        parsed_values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        if whole:
            shaped = _matches(column.text[text_rows], _WHOLE_NUMBER)
            parsed_values = np.where(shaped, parsed_values, np.nan)
        out[text_rows] = parsed_values
    unit = "a whole number" if whole else "a number"
    given = ~column.missing
    not_number = given & (
        ~np.isfinite(out) | (whole & (np.floor(out) != out)) | (~is_number & ~column.is_text)
    )
    out_of_range = given & ~not_number & ((out < lower) | (out > upper))

    def describe(v: Any) -> str:
        return f"must be {unit} from {lower:g} to {upper:g}, got {quote_value(v)}"

    code = "not_whole_number" if whole else "not_number"
    errors.add_each(not_number, name, code, column.values, describe)
    errors.add_each(out_of_range, name, "out_of_range", column.values, describe)
    out[not_number | out_of_range] = default
    return out


def _today(today: dt.date | None) -> dt.date:
    return today if today is not None else dt.date.today()


def _parse_birth_date(
    errors: _Collector, source: _Source, spec: FieldSpec, code_dates: np.ndarray
) -> np.ndarray:
    """The birth date: from the code, from the field, or both when they agree."""
    code = source["henkilotunnus"]
    birth = _parse_date(errors, source, spec)
    errors.add(
        code.missing & source[spec.name].missing,
        spec.name,
        "missing_birth_date",
        "missing: give birth_date or henkilotunnus",
    )
    code_ok = ~np.isnat(code_dates)
    assert spec.bounds is not None
    too_old = code_ok & (code_dates < np.datetime64(spec.bounds[0], "D"))
    errors.add(
        too_old,
        spec.name,
        "out_of_range",
        f"the henkilötunnus gives a birth date before {spec.bounds[0].isoformat()}",
    )
    code_ok &= ~too_old
    errors.add(
        code_ok & ~np.isnat(birth) & (birth != code_dates),
        spec.name,
        "disagrees_with_henkilotunnus",
        "disagrees with the birth date in the henkilötunnus",
    )
    return np.where(code_ok & np.isnat(birth), code_dates, birth)


def _parse_henkilotunnus(errors: _Collector, source: _Source, spec: FieldSpec) -> np.ndarray:
    """The birth dates the valid codes hold (NaT elsewhere); the codes themselves are dropped."""
    code = source[spec.name]
    errors.add(_not_text(code), spec.name, "not_text", f"must be {spec.hint}")
    # Only the given codes are checked (the API rarely sends one).
    code_dates = np.full(source.n_rows, np.datetime64("NaT"), dtype="datetime64[D]")
    problems = np.full(source.n_rows, VALID, dtype=np.int8)
    if code.is_text.any():
        code_dates[code.is_text], problems[code.is_text] = parse_henkilotunnus_array(
            code.text[code.is_text]
        )
    for problem, message in PROBLEM_MESSAGES.items():
        errors.add(
            code.is_text & (problems == problem), spec.name, HENKILOTUNNUS_CODES[problem], message
        )
    code_dates[~(code.is_text & (problems == VALID))] = np.datetime64("NaT")
    return code_dates


_PARSERS: Final[dict[str, Callable[[_Collector, _Source, FieldSpec], np.ndarray]]] = {
    "id": _parse_id,
    "code": _parse_code,
    "enum": _parse_enum,
    "bool": _parse_bool,
    "date": _parse_date,
    "whole": _parse_number,
    "number": _parse_number,
}


def _validate(source: _Source, today: dt.date | None) -> tuple[dict[str, np.ndarray], _Collector]:
    """Check every field of every row as `PROFILE_SPEC` declares it, then the rules that
    join fields; the typed columns (all rows) and the errors found."""
    errors = _Collector(source.n_rows)
    columns: dict[str, Any] = {}
    code_dates = np.full(source.n_rows, np.datetime64("NaT"), dtype="datetime64[D]")
    for spec in PROFILE_SPEC:
        unencodable = source[spec.name].unencodable
        if unencodable is not None:
            errors.add(
                unencodable,
                spec.name,
                "not_utf8",
                "must be text encodable as UTF-8 (it holds a lone surrogate)",
            )
        if spec.kind == "henkilotunnus":
            code_dates = _parse_henkilotunnus(errors, source, spec)
        elif spec.name == "birth_date":
            columns[spec.name] = _parse_birth_date(errors, source, spec, code_dates)
        else:
            columns[spec.name] = _PARSERS[spec.kind](errors, source, spec)
        if spec.default is TODAY:
            columns[spec.name] = np.where(
                source[spec.name].missing, np.datetime64(_today(today), "D"), columns[spec.name]
            )
    errors.add(
        ~np.isnat(columns["birth_date"])
        & ~np.isnat(columns["assessment_date"])
        & (columns["birth_date"] > columns["assessment_date"]),
        "birth_date",
        "after_assessment_date",
        "after the assessment date",
    )
    errors.add(
        ~np.isnat(columns["last_service_date"])
        & ~np.isnat(columns["assessment_date"])
        & (columns["last_service_date"] > columns["assessment_date"]),
        "last_service_date",
        "after_assessment_date",
        "after the assessment date",
    )
    for name in INT_FIELDS:
        columns[name] = columns[name].astype(np.int64)
    return columns, errors


def parse_profile_frame(raw: pd.DataFrame, *, today: dt.date | None = None) -> ProfileFrame:
    """Validate a register extract and type its valid rows.

    Parameters
    ----------
    raw : pandas.DataFrame
        One profile per row; columns named as in DESIGN.md. Values are strings (as read
        from CSV with ``dtype=str``) or JSON-like values (bools, numbers, dates). Empty
        cells are missing. Columns the profile does not know are ignored; need fields
        and `gender` may be absent (need fields take `NEED_DEFAULTS`).
    today : datetime.date, optional
        The assessment date of rows that give none (default: the current date).

    Returns
    -------
    ProfileFrame
        The typed valid rows and every error of every row (rows numbered from 1).

    Examples
    --------
    >>> raw = pd.DataFrame({"client_id": ["a"], "birth_date": ["1990-02-30"]})
    >>> result = parse_profile_frame(raw)
    >>> result.errors[0].message, result.errors[0].code
    ("impossible date '1990-02-30'", 'impossible_date')
    """
    columns, errors = _validate(_Source(raw, len(raw)), today)
    valid = ~errors.bad
    typed: dict[str, pd.Series] = {}
    index = raw.index[valid]
    for name in PROFILE_COLUMNS:
        values = columns[name][valid]
        if name in DATE_FIELDS:
            typed[name] = pd.Series(values.astype("datetime64[ns]"), index=index)
        elif name in BOOL_FIELDS:
            typed[name] = pd.Series(values.astype(bool), index=index)
        elif name in INT_FIELDS:
            typed[name] = pd.Series(values, index=index, dtype=np.int64)
        elif name in FLOAT_FIELDS:
            typed[name] = pd.Series(values, index=index, dtype=np.float64)
        else:
            typed[name] = pd.Series(values, index=index, dtype="str")
    frame = pd.DataFrame(typed, index=index, columns=list(PROFILE_COLUMNS))
    return ProfileFrame(frame=frame, errors=errors.row_errors())


def profiles_to_frame(profiles: Sequence[ClientProfile]) -> pd.DataFrame:
    """A typed profile frame (as `parse_profile_frame` makes) from validated profiles.

    Examples
    --------
    >>> profiles_to_frame([]).columns.tolist() == list(PROFILE_COLUMNS)
    True
    """
    records = [p.to_record() for p in profiles]
    typed: dict[str, pd.Series] = {}
    for name in PROFILE_COLUMNS:
        values = [r[name] for r in records]
        if name in DATE_FIELDS:
            typed[name] = pd.Series(
                np.array([v if v is not None else "NaT" for v in values], dtype="datetime64[D]"),
                dtype="datetime64[ns]",
            )
        elif name in BOOL_FIELDS:
            typed[name] = pd.Series(values, dtype=bool)
        elif name in INT_FIELDS:
            typed[name] = pd.Series(values, dtype=np.int64)
        elif name in FLOAT_FIELDS:
            typed[name] = pd.Series(values, dtype=np.float64)
        else:
            typed[name] = pd.Series(values, dtype="str")
    return pd.DataFrame(typed, columns=list(PROFILE_COLUMNS))


def profile_from_row(row: Mapping[str, Any] | pd.Series) -> ClientProfile:
    """A `ClientProfile` from one row of a typed profile frame (e.g. ``frame.iloc[k]``)."""

    def date_or_none(value: Any) -> dt.date | None:
        return None if pd.isna(value) else pd.Timestamp(value).date()

    def text_or_none(value: Any) -> str | None:
        return (
            None
            if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value)
            else str(value)
        )

    values: dict[str, Any] = {}
    for name in PROFILE_COLUMNS:
        value = row[name]
        if name in DATE_FIELDS:
            values[name] = date_or_none(value)
        elif name in BOOL_FIELDS:
            values[name] = bool(value)
        elif name in INT_FIELDS:
            values[name] = int(value)
        elif name in FLOAT_FIELDS:
            values[name] = float(value)
        else:
            values[name] = text_or_none(value)
    return ClientProfile(**values)


def parse_profile(raw: Mapping[str, Any], *, today: dt.date | None = None) -> ClientProfile:
    """Validate one raw profile (a CSV row or a JSON object) and type it.

    Parameters
    ----------
    raw : Mapping
        Field name to value: strings, or JSON values (bools, numbers, dates). Need fields
        and `gender` may be absent; a missing `assessment_date` means `today`.
    today : datetime.date, optional
        Default assessment date (default: the current date).

    Returns
    -------
    ClientProfile
        Without the personal identity code, which only supplies the birth date.

    Raises
    ------
    ProfileValidationError
        With every problem as a `FieldError(field, message, code)`; unknown fields are problems
        too. No message contains the personal identity code.
    """
    unknown = sorted(set(raw) - set(PROFILE_FIELDS))
    cells: dict[str, np.ndarray] = {}
    for name in PROFILE_FIELDS:
        if name in raw:
            cells[name] = np.empty(1, dtype=object)
            cells[name][0] = raw[name]  # a list or dict stays one (invalid) cell
    columns, errors = _validate(_Source(cells, 1), today)
    field_errors = tuple(
        FieldError(e.field, e.message, e.code) for e in errors.row_errors()
    ) + tuple(
        FieldError(
            name if not HENKILOTUNNUS_PATTERN.search(name) else "(unknown)",
            "unknown field",
            "unknown_field",
        )
        for name in unknown
    )
    if field_errors:
        raise ProfileValidationError(field_errors)
    return profile_from_row({name: columns[name][0] for name in PROFILE_COLUMNS})
