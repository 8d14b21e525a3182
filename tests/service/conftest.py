"""Fixtures of the service tests: settings, a loader of the tiny model, apps, audit databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from models.bundle import PolkuModel
from service.main import create_app
from service.settings import Settings
from tests.postgres import PostgresCluster
from tests.service.audit_db import AuditDatabase
from tests.service.helpers import FakeLoaded, make_settings


@pytest.fixture
def loader(tiny_model: PolkuModel) -> Callable[[], FakeLoaded]:
    """A champion loader returning the tiny model as version 7."""
    return lambda: FakeLoaded(tiny_model, "7", tiny_model.trained_at, {"policy_value": 0.41})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def api(settings: Settings, loader: Callable[[], FakeLoaded]) -> Iterator[TestClient]:
    """A TestClient of the app serving the tiny model."""
    with TestClient(create_app(settings, model_loader=loader)) as client:
        yield client


@pytest.fixture
def api_without_model(tmp_path: Path) -> Iterator[TestClient]:
    """A TestClient of the app whose champion cannot be loaded."""

    def no_champion() -> FakeLoaded:
        raise LookupError("no registered model has the champion alias yet")

    with TestClient(create_app(make_settings(tmp_path), model_loader=no_champion)) as client:
        yield client


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_db(request: pytest.FixtureRequest, tmp_path: Path) -> AuditDatabase:
    """A fresh audit database, once in SQLite and once in PostgreSQL (migrated by its owner,
    the service's role limited to reading and appending)."""
    if request.param == "sqlite":
        return AuditDatabase.sqlite(tmp_path / "audit.sqlite3")
    cluster = request.getfixturevalue("postgres_cluster")
    return AuditDatabase.postgresql(cluster.new_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The owner's URL of an empty database no store has opened yet (SQLite, PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    return str(request.getfixturevalue("postgres_cluster").new_database().owner_url)


@pytest.fixture
def postgres_audit_db(postgres_cluster: PostgresCluster) -> AuditDatabase:
    """A fresh PostgreSQL audit database, for what only PostgreSQL has (roles)."""
    return AuditDatabase.postgresql(postgres_cluster.new_database())
