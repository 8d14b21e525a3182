"""`polku audit export|prune|verify|migrate` (on SQLite and PostgreSQL), `polku serve --help`,
log redaction."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from models.keys import derive_key
from pipeline.cli import build_app
from service.audit import AuditStore
from service.errors import RedactingFilter, redact, without_values
from tests.postgres import PostgresCluster
from tests.service.audit_db import AuditDatabase
from tests.service.helpers import HMAC_KEY, decision, suggestion


@pytest.fixture
def audit_env(audit_db: AuditDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditStore]:
    url = audit_db.url
    monkeypatch.setenv("POLKU_AUDIT_DB_URL", url)
    monkeypatch.setenv("POLKU_AUDIT_OWNER_DB_URL", audit_db.owner_url)  # prune's role
    # prune seals tombstones and verify checks the chain with the key derived from the
    # secret, which outside development must be configured (issue 13).
    monkeypatch.setenv("POLKU_HMAC_KEY", HMAC_KEY)
    from service.settings import get_settings

    get_settings.cache_clear()
    store = AuditStore(url, chain_key=derive_key(HMAC_KEY.encode(), "audit-chain")).open()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store.write_suggestion(suggestion("a" * 32, created_at=now - dt.timedelta(days=50)))
    store.write_suggestion(suggestion("b" * 32, created_at=now - dt.timedelta(days=1)))
    store.write_decision(decision("a" * 32))
    store.close()
    yield store
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


def test_audit_verify_command_names_the_first_broken_row(
    audit_env: AuditStore, audit_db: AuditDatabase
) -> None:
    result = CliRunner().invoke(build_app(), ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "suggestions: 2 rows chained" in result.output
    head = next(line for line in result.output.splitlines() if line.startswith("head sugg"))
    recorded = head.removeprefix("head ")
    again = CliRunner().invoke(build_app(), ["audit", "verify", "--head", recorded])
    assert again.exit_code == 0, again.output
    audit_db.sql(
        audit_db.drop_trigger("suggestions_append_only", "suggestions"),
        "UPDATE suggestions SET eligible = FALSE WHERE id = 2",
    )
    broken = CliRunner().invoke(build_app(), ["audit", "verify"])
    assert broken.exit_code == 1
    assert "BROKEN at suggestions row 2" in broken.output


def test_audit_migrate_command_migrates_as_the_owner_and_limits_the_service_role(
    postgres_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.settings import get_settings

    database = postgres_cluster.new_database()
    monkeypatch.setenv("POLKU_AUDIT_DB_URL", database.service_url)
    monkeypatch.setenv("POLKU_AUDIT_OWNER_DB_URL", database.owner_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(build_app(), ["audit", "migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "role polku_service may read and append" in result.output
    with AuditStore(database.service_url) as store:  # the service's role, now let in
        store.write_suggestion(suggestion("a" * 32))
        assert store.verify().ok


def test_serve_command_is_registered_with_loopback_defaults() -> None:
    result = CliRunner().invoke(build_app(), ["serve", "--help"])
    assert result.exit_code == 0
    assert "127.0.0.1" in result.output
    assert "8000" in result.output
    assert "--dev-keys" in result.output


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


def test_redacting_filter_keeps_uvicorn_access_lines_formattable() -> None:
    from uvicorn.logging import AccessFormatter

    # uvicorn's access formatter unpacks the record's arguments: redaction must keep them.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/answers/131052-308T", "1.1", 200),
        None,
    )
    assert RedactingFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert "131052-308T" not in line
    assert "GET /answers/[redacted]" in line
    assert "200" in line.rsplit('"', 1)[-1]


@pytest.mark.parametrize(
    ("has_world", "champion", "expected_steps"),
    [
        (False, None, ["generate", "train"]),
        (True, None, ["train"]),
        (True, "3", []),
    ],
)
def test_run_command_makes_only_what_is_missing_then_serves_with_dev_keys(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    has_world: bool,
    champion: str | None,
    expected_steps: list[str],
) -> None:
    import service.cli
    import service.model_holder

    monkeypatch.setenv("POLKU_STATE_DIR", str(tmp_path))
    if has_world:
        (tmp_path / "world").mkdir()
        (tmp_path / "world" / "episodes.parquet").write_bytes(b"")
    steps: list[list[str]] = []
    served: dict[str, object] = {}
    monkeypatch.setattr(service.cli, "_step", lambda _ctx, args: steps.append(args))
    monkeypatch.setattr(service.cli, "serve", lambda **kw: served.update(kw))
    monkeypatch.setattr(service.model_holder, "champion_version", lambda: champion)
    result = CliRunner().invoke(build_app(), ["run", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert [s[0] for s in steps] == expected_steps
    if "train" in expected_steps:
        train = steps[-1]
        assert train[train.index("--data") + 1] == str(tmp_path / "world")
        assert "--promote-if-first" in train
    assert served["port"] == 8123
    assert served["host"] == "127.0.0.1"
    assert served["dev_keys"] is True


def test_run_steps_are_the_cli_s_own_commands_run_in_this_process() -> None:
    import service.cli

    app = build_app()
    calls: list[tuple[str, int]] = []

    @app.command("probe-step")
    def probe_step(value: str = "x", fail: bool = False) -> None:
        calls.append((value, os.getpid()))
        if fail:
            raise typer.Exit(3)

    @app.command("probe-run")
    def probe_run(ctx: typer.Context, fail: bool = False) -> None:
        service.cli._step(ctx, ["probe-step", "--value", "y", *(["--fail"] if fail else [])])
        calls.append(("after", os.getpid()))

    result = CliRunner().invoke(app, ["probe-run"])
    assert result.exit_code == 0, result.output
    assert calls == [("y", os.getpid()), ("after", os.getpid())]
    calls.clear()
    failed = CliRunner().invoke(app, ["probe-run", "--fail"])
    assert failed.exit_code == 3
    assert calls == [("y", os.getpid())]
