"""Every visible word of the caseworker page, in Finnish, Swedish and English.

The words are in one file per language, `texts/<lang>.toml` beside this module, loaded once;
every file has the same keys and placeholders (a test checks). Field names and allowed
values come from `models.profile`; this module only words them. Service names and
descriptions come from the catalog, the gate's reasons from the gate, and the needs behind
a suggestion from `models.explanations`: one source for each text.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import string
import tomllib
from importlib import resources
from typing import Any

from models.catalog import ServiceLimits
from models.languages import DEFAULT_LANGUAGE, LANGUAGES
from models.profile import ENUM_VALUES, SPEC_BY_NAME


@functools.cache
def texts(lang: str) -> dict[str, Any]:
    """The page's texts in `lang` (`texts/<lang>.toml`), read on first use."""
    if lang not in LANGUAGES:
        raise KeyError(f"the page has no texts in {lang!r}")
    with resources.files(__package__).joinpath("texts", f"{lang}.toml").open("rb") as handle:
        return tomllib.load(handle)


def flat_texts(lang: str) -> dict[str, str]:
    """Every text of `lang` under its dotted key (`ui.title`, `fields.client_id.label`, ...)."""
    out: dict[str, str] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        for name, value in node.items():
            if isinstance(value, dict):
                walk(f"{prefix}{name}.", value)
            else:
                out[f"{prefix}{name}"] = value

    walk("", texts(lang))
    return out


def placeholders(text: str) -> set[str]:
    """The `{name}` placeholders of a text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def language_names() -> dict[str, str]:
    """Each language's name, in that language (for the language switch)."""
    return {lang: texts(lang)["language_name"] for lang in LANGUAGES}


def preferred_language(accept_language: str) -> str:
    """The first of the page's languages an `Accept-Language` header names, else Finnish."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def ui(key: str, lang: str, **values: object) -> str:
    """A text of the page in `lang`, with `{name}` placeholders filled."""
    text: str = texts(lang)["ui"][key]
    return text.format(**values) if values else text


def field_label(name: str, lang: str) -> str:
    """The label of a form field."""
    label: str = texts(lang)["fields"][name]["label"]
    return label


def field_help(name: str, lang: str, **values: object) -> str | None:
    """The help text of a form field, if it has one, with its `{name}` placeholders filled."""
    help_text: str | None = texts(lang)["fields"][name].get("help")
    if help_text is not None and values and placeholders(help_text):
        return help_text.format(**values)
    return help_text


def date_text(day: dt.date, lang: str) -> str:
    """A date the way the language writes it (1.3.2021 in Finnish and Swedish)."""
    return day.isoformat() if lang == "en" else f"{day.day}.{day.month}.{day.year}"


def value_label(field_name: str, value: str, lang: str) -> str:
    """The word for an allowed value of an enum field (or objective, or service family)."""
    word: str = texts(lang)["values"][field_name][value]
    return word


def error_text(code: str, field_name: str, lang: str) -> str:
    """The wording, in `lang`, of a validation problem (`code`) with one profile field.

    Looked up by the validator's stable code, most specific first (`code:field`, then
    `code:kind`, then `code`): the validator's English messages are never shown, as they
    may quote the bad value (an identity code typed into the wrong field, say).
    """
    wording: dict[str, str] = texts(lang)["errors"]
    spec = SPEC_BY_NAME.get(field_name)
    for key in (f"{code}:{field_name}", f"{code}:{spec.kind}" if spec else "", code):
        if key in wording:
            return wording[key]
    return wording["fallback"]


def _number(text: str, lang: str) -> str:
    return text.replace(".", texts(lang)["numbers"]["decimal_mark"])


def number(value: float, lang: str) -> str:
    """A plain number with the language's decimal mark (0,5 in Finnish and Swedish)."""
    return _number(f"{value:g}", lang)


def percent(probability: float, lang: str) -> str:
    """A probability as a whole percentage, the way each language writes it."""
    written: str = texts(lang)["numbers"]["percent"]
    return written.format(n=round(100 * probability))


def points(difference: float, lang: str) -> str:
    """A difference of probabilities in percentage points, with its sign."""
    value = 100 * difference
    if math.isclose(value, 0.0, abs_tol=0.05):
        value = 0.0
    written: str = texts(lang)["numbers"]["points"]
    return written.format(n=_number(f"{value:+.1f}".replace("-", "−"), lang))


def weeks(duration: float, lang: str) -> str:
    """A length in weeks."""
    return ui("weeks", lang, n=_number(f"{duration:g}", lang))


def _list(values: tuple[str, ...], field_name: str, lang: str) -> str:
    return ", ".join(value_label(field_name, v, lang).lower() for v in values)


# The `ServiceLimits` fields in the order their sentences are shown; an age range is one.
_LIMIT_ORDER: tuple[str, ...] = (
    "min_age",
    "max_age",
    "foreign_language_only",
    "min_unemployment_months",
    "reduced_work_ability_only",
    "business_plan_required",
    "entrepreneurship_interest_required",
    "requires_barrier",
    "labour_market_statuses",
    "unemployment_benefits",
    "education_levels",
    "max_language_level",
)
_VALUE_LIMITS: dict[str, str] = {
    "labour_market_statuses": "labour_market_status",
    "unemployment_benefits": "unemployment_benefit",
    "education_levels": "education_level",
}


def limit_line(limits: ServiceLimits, name: str, lang: str) -> str | None:
    """The sentence of one limit (a `ServiceLimits` field name); None when it is not set."""
    words: dict[str, str] = texts(lang)["limits"]
    if name in ("min_age", "max_age"):
        if limits.min_age is not None and limits.max_age is not None:
            return words["age_between"].format(min_age=limits.min_age, max_age=limits.max_age)
        if limits.min_age is not None:
            return words["age_at_least"].format(min_age=limits.min_age)
        if limits.max_age is not None:
            return words["age_at_most"].format(max_age=limits.max_age)
        return None
    if name == "foreign_language_only":
        return words[name] if limits.foreign_language_only else None
    if name == "min_unemployment_months":
        n = limits.min_unemployment_months
        return words[name].format(n=n) if n else None
    if name in (
        "reduced_work_ability_only",
        "business_plan_required",
        "entrepreneurship_interest_required",
    ):
        return words[name] if getattr(limits, name) else None
    if name == "requires_barrier":
        if not limits.requires_barrier:
            return None
        names = ", ".join(field_label(flag, lang).lower() for flag in limits.requires_barrier)
        return words["requires_barrier"].format(names=names)
    if name in _VALUE_LIMITS:
        allowed: tuple[str, ...] = getattr(limits, name)
        field_name = _VALUE_LIMITS[name]
        return (
            f"{field_label(field_name, lang)}: {_list(allowed, field_name, lang)}"
            if allowed
            else None
        )
    if name == "max_language_level":
        if limits.max_language_level is None:
            return None
        level = value_label("language_level", limits.max_language_level, lang)
        return words["max_language_level"].format(level=level)
    raise KeyError(f"no wording for the limit {name!r}")


def limit_lines(
    limits: ServiceLimits, lang: str, names: tuple[str, ...] = _LIMIT_ORDER
) -> list[str]:
    """Who may take a service, one plain sentence per limit of `names` it sets (all by
    default; empty: open to everyone)."""
    lines: list[str] = []
    for name in _LIMIT_ORDER:
        if name in names:
            line = limit_line(limits, name, lang)
            if line is not None and line not in lines:
                lines.append(line)
    return lines


def missing_texts() -> list[str]:
    """Keys of enum values without a word in some language (empty when complete)."""
    return [
        f"{lang}: {name}={value}"
        for lang in LANGUAGES
        for name, values in ENUM_VALUES.items()
        for value in values
        if value not in texts(lang)["values"].get(name, {})
    ]
