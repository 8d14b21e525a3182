"""An extract's own column names and codes, mapped onto Polku's fields: the one place.

A real register extract names its columns and codes its values its own way. An optional
mapping file (TOML, `docs/EXTRACTS.md`, example `data/mappings/example.toml`) says which
extract column is which Polku field (`[columns]`) and, per Polku field, which extract value
is which Polku value (`[values.<field>]`). `load_mapping` reads and checks the file strictly;
`ExtractMapping.apply` renames and recodes a raw table before validation;
`ExtractMapping.column_label` names a field as the extract names it, so that validation
errors point at the extract's own column. Values the mapping does not list pass through
unchanged, so a partial mapping works.

Every reader of an extract goes through here: `pipeline.data.register` (hence `polku
validate`, `polku effects DIR` and `load_world`, hence `polku train`) and `polku
eligibility`. A new reader (such
as a `polku score` over an extract) takes a `--mapping FILE` option, calls `load_mapping`
and passes the mapping to `pipeline.data.register` or calls `apply` on its raw table.

The mapping names only Polku fields; which fields feed the ranker is `models.features`'
business, so protected attributes (`models.profile.NEVER_FEATURES`) stay out of it whatever
the extract calls them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import pandas as pd

from models.objectives import EPISODE_OUTCOMES
from models.profile import HISTORY_FIELDS, NEVER_FEATURES, PROFILE_COLUMNS, SPEC_BY_NAME
from pipeline.data.layout import EPISODE_FIELDS, OPTIONAL_EPISODE_FIELDS

# Every field an extract may carry: the profile's and the episodes' own.
POLKU_FIELDS: Final = (
    *SPEC_BY_NAME,
    *(f for f in (*EPISODE_FIELDS, *OPTIONAL_EPISODE_FIELDS) if f not in SPEC_BY_NAME),
)
# Profile kinds whose values may be recoded (ids, dates and numbers are written as they are).
RECODABLE_KINDS: Final = ("enum", "bool", "code")
SECTIONS: Final = ("columns", "values")


class MappingError(ValueError):
    """A mapping file is not valid; `.problems` holds every problem, each naming its key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"invalid mapping {source}: {shown}{more}")
        self.source = source
        self.problems = tuple(problems)


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _target_problem(name: str, value: object) -> str | None:
    """Why `value` cannot be the Polku value of field `name`, or None when it can."""
    if name == "service_id":
        if not isinstance(value, str) or not value.strip():
            return "must be a service id (text) or 'none'"
        return None
    if name in EPISODE_OUTCOMES:
        if isinstance(value, bool) or value not in (0, 1):
            return "must be 0 or 1"
        return None
    spec = SPEC_BY_NAME[name]
    if spec.kind == "bool":
        return None if isinstance(value, bool) else "must be true or false (a TOML boolean)"
    if not isinstance(value, str):
        return f"must be text: {spec.hint}"
    if spec.kind == "enum" and value not in spec.values:
        return f"{value!r} is not allowed: {spec.hint}"
    if spec.kind == "code" and spec.pattern is not None:
        text = value.lower() if spec.lowercase else value
        if not re.fullmatch(spec.pattern, text, flags=re.ASCII):
            return f"{value!r} is not allowed: {spec.hint}"
    return None


def _recodable(name: str) -> bool:
    if name == "service_id" or name in EPISODE_OUTCOMES:
        return True
    spec = SPEC_BY_NAME.get(name)
    return spec is not None and spec.kind in RECODABLE_KINDS


@dataclass(frozen=True)
class ExtractMapping:
    """A checked mapping from an extract's columns and values to Polku's.

    Attributes
    ----------
    source : str
        The mapping file's name, for messages.
    columns : dict of str -> str
        Extract column -> Polku field (one column per field).
    values : dict of str -> dict of str -> object
        Polku field -> (extract value, as text -> Polku value).
    path : Path or None
        The file it was read from (`load_mapping`), for the data's fingerprint.
    """

    source: str
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, object]] = field(default_factory=dict)
    path: Path | None = None

    @property
    def column_of(self) -> dict[str, str]:
        """Polku field -> the extract column mapped to it."""
        return {polku: own for own, polku in self.columns.items()}

    def column_label(self, name: str) -> str | None:
        """`column 'kotikunta' (home_municipality)` for a renamed field; None otherwise."""
        own = self.column_of.get(name)
        if own is None or own == name:
            return None
        return f"column {own!r} ({name})"

    def apply(self, raw: pd.DataFrame, file: str = "extract") -> pd.DataFrame:
        """The table with Polku's column names and values (a new frame; `raw` is untouched).

        Raises
        ------
        MappingError
            The table also holds, unmapped, a column named like a field the mapping maps
            another column to (which of the two is meant cannot be told), or lacks a column
            the mapping maps to a profile field.
        """
        shadowed = [
            f"{file}: column {polku!r} is in the extract, but {self.source} maps {own!r} to it"
            for own, polku in self.columns.items()
            if own != polku
            and own in raw.columns
            and polku in raw.columns
            and polku not in self.columns
        ]
        # A mapped profile column the table lacks is most likely a misspelt key, and the
        # field would silently take its default. Not so for a history field (derived from
        # the extract's own episodes when absent), an episode field or the identity code
        # (each in one file of a register only).
        absent = [
            f"{file}: {self.source} maps column {own!r} to {polku!r}, but the extract has no"
            f" column {own!r}"
            for own, polku in self.columns.items()
            if polku in PROFILE_COLUMNS and polku not in HISTORY_FIELDS and own not in raw.columns
        ]
        if shadowed or absent:
            raise MappingError(self.source, shadowed + absent)
        frame = raw.rename(columns=self.columns)
        for name, codes in self.values.items():
            if name in frame.columns and codes:
                frame[name] = _recode(frame[name], codes)
        return frame


def _recode(column: pd.Series, codes: Mapping[str, object]) -> pd.Series:
    """Cells whose text (spaces stripped) is a listed code become its Polku value.

    A text column stays text (the targets written as text, `true`/`false` for a boolean),
    so validation reads it on its fast path; a typed one (Parquet) takes the targets as they are.
    """
    present = column.notna()
    text = column.astype(str).str.strip().where(present)
    hit = (present & text.isin(list(codes))).to_numpy()
    if not hit.any():
        return column
    as_text = column.dtype == object or isinstance(column.dtype, pd.StringDtype)
    targets = {code: _fmt(value) for code, value in codes.items()} if as_text else dict(codes)
    out = column.copy() if as_text else column.astype(object)
    out[hit] = text[hit].map(targets).to_numpy(dtype=object)
    return out


def parse_mapping(document: Mapping[str, Any], source: str = "mapping") -> ExtractMapping:
    """Check a mapping document (a parsed TOML file); every problem names its key.

    Raises
    ------
    MappingError
        Unknown section or Polku field, a target value the field does not allow, two
        columns mapped to one field, values for a field that cannot be recoded, or a key
        of the wrong type.
    """
    problems: list[str] = []
    for key in document:
        if key not in SECTIONS:
            problems.append(f"[{key}]: unknown section (expected [columns] and [values.<field>])")
    columns_doc = document.get("columns", {})
    columns: dict[str, str] = {}
    if not isinstance(columns_doc, Mapping):
        problems.append("columns: must be a table of extract column = Polku field")
        columns_doc = {}
    taken: dict[str, str] = {}
    for own, polku in columns_doc.items():
        key = f"columns.{own}"
        if not isinstance(polku, str):
            problems.append(f"{key}: must name a Polku field (text)")
        elif polku not in POLKU_FIELDS:
            problems.append(f"{key}: {polku!r} is not a Polku field")
        elif own in NEVER_FEATURES and polku not in NEVER_FEATURES:
            problems.append(
                f"{key}: {own!r} is a protected or identifying field and cannot be mapped"
                f" onto {polku!r}, which the ranker reads"
            )
        elif polku in taken:
            problems.append(
                f"{key}: {polku!r} is already mapped from columns.{taken[polku]}"
                " (one column per field)"
            )
        else:
            taken[polku] = own
            columns[own] = polku
    values_doc = document.get("values", {})
    values: dict[str, dict[str, object]] = {}
    if not isinstance(values_doc, Mapping):
        problems.append("values: must hold one table per Polku field, [values.<field>]")
        values_doc = {}
    for name, codes in values_doc.items():
        key = f"values.{name}"
        if name not in POLKU_FIELDS:
            problems.append(f"[{key}]: {name!r} is not a Polku field")
            continue
        if not _recodable(name):
            problems.append(f"[{key}]: the values of {name!r} cannot be recoded")
            continue
        if not isinstance(codes, Mapping):
            problems.append(f"{key}: must be a table of extract value = Polku value")
            continue
        checked: dict[str, object] = {}
        written: dict[str, str] = {}
        for code, target in codes.items():
            problem = _target_problem(name, target)
            if problem is None and code.strip() in written:
                # Cells are matched with their spaces stripped, so both would claim one code.
                problem = f"is the same code as {written[code.strip()]!r} once spaces are stripped"
            if problem is None:
                checked[code.strip()] = target
                written[code.strip()] = code
            else:
                problems.append(f"{key}.{code!r}: {problem}")
        values[name] = checked
    if problems:
        raise MappingError(source, problems)
    return ExtractMapping(source, columns, values)


def load_mapping(path: str | Path) -> ExtractMapping:
    """Read and check a mapping file (TOML).

    Raises
    ------
    MappingError
        The file cannot be read, is not TOML, or does not check (`parse_mapping`).
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(path.name, [f"cannot read the file ({type(exc).__name__})"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(path.name, [f"not valid TOML ({exc})"]) from None
    return replace(parse_mapping(document, path.name), path=path)
