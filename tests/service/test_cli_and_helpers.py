"""`polku audit export|prune`, `polku serve --help`, the profile batcher, log redaction."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from models.profile_validation import ProfileValidationError, parse_profile
from pipeline.cli import build_app
from service.audit import AuditStore
from service.errors import RedactingFilter, redact, without_values
from service.profile_batch import ProfileBatcher, parse_profiles
from tests.service.helpers import client_profile
from tests.service.test_audit_store import decision, suggestion


@pytest.fixture
def audit_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditStore:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    monkeypatch.setenv("POLKU_AUDIT_DB_URL", url)
    from service.settings import get_settings

    get_settings.cache_clear()
    store = AuditStore(url).open()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store.write_suggestion(suggestion("a" * 32, created_at=now - dt.timedelta(days=50)))
    store.write_suggestion(suggestion("b" * 32, created_at=now - dt.timedelta(days=1)))
    store.write_decision(decision("a" * 32))
    store.close()
    yield store  # type: ignore[misc]
    get_settings.cache_clear()


def test_audit_export_command_writes_the_file(audit_env: AuditStore, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(build_app(), ["audit", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 2 rows" in result.output
    assert out.read_text().count("\n") == 3


def test_audit_export_command_names_a_bad_suffix(audit_env: AuditStore, tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["audit", "export", "--out", str(tmp_path / "x.txt")])
    assert result.exit_code != 0
    assert "--out" in result.output


def test_audit_prune_command_applies_the_age(audit_env: AuditStore) -> None:
    result = CliRunner().invoke(build_app(), ["audit", "prune", "--older-than-days", "30"])
    assert result.exit_code == 0, result.output
    assert "removed 1 suggestions and 1 decisions older than 30 days" in result.output
    assert audit_env.count("suggestions") == 1


def test_serve_command_is_registered_with_loopback_defaults() -> None:
    result = CliRunner().invoke(build_app(), ["serve", "--help"])
    assert result.exit_code == 0
    assert "127.0.0.1" in result.output
    assert "8000" in result.output
    assert "--dev-keys" in result.output


def test_parse_profiles_matches_parse_profile_one_by_one() -> None:
    raws: list[dict[str, Any]] = [
        client_profile(),
        client_profile(henkilotunnus="170500A9057"),
        client_profile(henkilotunnus=None, birth_date="1980-02-29"),
        client_profile(labour_market_status="astronaut"),
        {**client_profile(), "shoe_size": 44},
        client_profile(experiment_client_since="2022-01-01", gender="female"),
    ]
    batched = parse_profiles(raws)
    for raw, got in zip(raws, batched, strict=True):
        try:
            expected: Any = parse_profile(raw)
        except ProfileValidationError as exc:
            assert isinstance(got, ProfileValidationError)
            assert got.errors == exc.errors
        else:
            assert got == expected


def test_batcher_answers_each_concurrent_request_with_its_own_profile() -> None:
    async def run() -> list[Any]:
        batcher = ProfileBatcher()
        raws = [client_profile(client_id=f"c{i}") for i in range(20)]
        raws[7] = client_profile(client_id="c7", unemployment_months="many")
        return await asyncio.gather(*(batcher.parse(r) for r in raws), return_exceptions=True)

    results = asyncio.run(run())
    assert isinstance(results[7], ProfileValidationError)
    assert [r.client_id for i, r in enumerate(results) if i != 7] == [
        f"c{i}" for i in range(20) if i != 7
    ]


def test_redact_removes_anything_shaped_like_a_code() -> None:
    assert redact("client 131052-308T asked") == "client [redacted] asked"
    assert redact("no code here 2024-03-04") == "no code here 2024-03-04"


def test_without_values_hides_quoted_values() -> None:
    assert without_values("unknown value 'abc'; allowed: a, b") == (
        "unknown value (value not shown); allowed: a, b"
    )
    assert without_values('must be true or false, got "it\'s"') == (
        "must be true or false, got (value not shown)"
    )


def test_redacting_filter_cleans_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("polku.test.redaction")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="polku.test.redaction"):
        logger.info("profile of %s", "131052-308T")
        try:
            raise ValueError("bad 010594Y9032")
        except ValueError:
            logger.exception("failed")
    text = caplog.text
    assert "131052-308T" not in text
    assert "010594Y9032" not in text
    assert "profile of [redacted]" in text
    assert "ValueError: bad [redacted]" in text
