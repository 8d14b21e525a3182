"""The one declaration of the profile's fields, and what is made from it."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from models import profile
from models.profile import PROFILE_SPEC, SPEC_BY_NAME, TODAY, ClientProfile
from models.profile_table import markdown_table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "PROFILE.md"


def test_docs_table_is_the_declaration() -> None:
    assert DOCS.read_text(encoding="utf-8") == markdown_table()


def test_client_profile_takes_its_defaults_and_values_from_the_declaration() -> None:
    hints = typing.get_type_hints(ClientProfile, vars(profile))
    for f in dataclasses.fields(ClientProfile):
        spec = SPEC_BY_NAME[f.name]
        if spec.required or spec.default is TODAY or f.name == "birth_date":
            assert f.default is dataclasses.MISSING
        else:
            assert f.default == spec.default
        if spec.kind == "enum":
            assert _literal_values(hints[f.name]) == spec.values


def _literal_values(hint: object) -> tuple[object, ...]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Literal:
        return args
    return tuple(v for a in args if a is not type(None) for v in _literal_values(a))


def test_every_field_but_the_identity_code_reaches_the_typed_profile() -> None:
    names = {spec.name for spec in PROFILE_SPEC}
    assert names - set(profile.PROFILE_COLUMNS) == {"henkilotunnus"}
    assert set(profile.PROFILE_COLUMNS) <= names
