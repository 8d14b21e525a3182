"""The service's settings, read from the environment (prefix `POLKU_`) once and cached.

Tests build their own `Settings(...)` and hand it to `create_app(settings)`; nothing here
touches the disk or the network when imported.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from models.state import state_dir

Role = Literal["caseworker", "data_scientist", "evaluator", "team_lead"]
ROLES: Final[tuple[Role, ...]] = ("caseworker", "data_scientist", "evaluator", "team_lead")
# Roles shown what a caseworker is shown of the served model (no metrics, no fingerprint).
PUBLIC_MODEL_ROLES: Final[frozenset[Role]] = frozenset({"caseworker", "team_lead"})

# Well-known keys for a developer's own machine only: `polku serve --dev-keys` turns them
# on, and the server says so loudly at start. Never valid unless dev_keys is true.
DEV_KEYS: Final[dict[Role, dict[str, str]]] = {
    "caseworker": {"dev-caseworker": "dev-caseworker-key"},
    "data_scientist": {"dev-data-scientist": "dev-data-scientist-key"},
    "evaluator": {"dev-evaluator": "dev-evaluator-key"},
    "team_lead": {"dev-team-lead": "dev-team-lead-key"},
}


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    Parameters
    ----------
    audit_db_url : SQLAlchemy URL of the audit store; default SQLite in the state dir.
        PostgreSQL: `postgresql+psycopg://polku_service@host/polku` (docs/DEPLOYMENT.md).
    audit_owner_db_url : URL of the same database as the role owning its tables, used by
        `polku audit migrate` and `polku audit prune` only; default `audit_db_url`.
    audit_pool_size, audit_pool_overflow : connections a worker keeps open to a server
        audit database, and how many more it may open at a peak (SQLAlchemy's 5 and 10;
        an SQLite file has no pool). Per worker: size the database's `max_connections`
        for replicas × workers × (size + overflow).
    environment : `production` (default) or `development`. Outside development the
        server refuses to start without `hmac_key`, and never accepts the development keys.
    hmac_key : the secret the keys of pseudonyms, input hashes, page sessions and the audit
        chain are derived from (`service.keys`; at least 32 characters). Required outside
        development; in development a random one is kept in the state dir (0600).
    caseworker_keys, data_scientist_keys, evaluator_keys : label -> API key or bearer token,
        as JSON in the environment, e.g. `POLKU_CASEWORKER_KEYS='{"desk-7": "..."}'`.
    team_lead_keys : the same for team leads (optional): they may run an allocation for
        their office's cohort and read what any role reads (services, the public model),
        nothing a caseworker may not see otherwise.
    caseworker_teams : caseworker label -> team, as JSON; a caseworker may record decisions
        on requests asked by a member of their own team. Default none: only the caseworker
        who asked decides (`service.authz.DecisionRule`).
    dev_keys : also accept the well-known development keys of `DEV_KEYS` (local use only).
    max_body_bytes : largest request body accepted (413 beyond it).
    retention_days : age in days after which retention removes audit records (default
        1825, five years; at least 183, six months, the least the EU AI Act keeps logs).
    scheduled_retention : run retention in the server, at start and every
        `retention_every_hours` (default 24); off for tests that keep old rows.
    model_switch_refresh_seconds : how often each worker reads the model's kill switch from
        the audit database (the longest another worker answers under the old state).
    reload_policy : `manual` (only `POST /v1/admin/reload`) or `poll` (also check the
        registry's champion alias every `reload_poll_seconds`).
    load_model_on_start : load the champion in the lifespan (tests of model-less routes
        turn it off).
    retry_after_seconds : the `Retry-After` sent with 503 while no model is loaded.
    limit_native_threads : limit OpenMP/BLAS to one thread in the serving process.
    freeze_gc_after_start : move what start-up loaded out of the garbage collector's reach.
    audit_timeout_seconds : longest wait for an audit write; past it the answer is refused
        with 503 instead of leaving without its record.
    session_db_url : SQLAlchemy URL of the page's session records; default a SQLite file
        beside a SQLite audit database (`sessions.sqlite3`), else the audit database.
    session_idle_minutes : a page session unused this long has ended (default 30).
    session_max_hours : a page session ends this long after sign-in, used or not (8: a
        working day).
    signin_attempts_per_minute : page sign-in attempts allowed per client address and per
        key tried (429 with Retry-After beyond; default 10).
    auth_failures_per_minute : wrong API keys allowed per client address before every
        request from it is answered 429 for a while (default 20).
    api_requests_per_minute : API requests allowed per key and per client address
        (default 6000, 100 a second: far above one caseworker system's use, well below a
        flood). Limits are kept per worker process.
    header_timeout_seconds : a connection whose request line and headers are not complete
        this long after it opened (or after the first byte of a later request) is answered
        408 and closed (default 10; `service.http_timeouts`, under `polku serve`).
    body_timeout_seconds : the same for the body, counted from the end of the headers
        (default 20: the largest body accepted, 64 KiB, at 3 KiB/s).
    exploration_offices : offices (teams of `caseworker_teams`) whose recommendations
        randomise the first place among services the model cannot tell apart, with the
        probabilities logged in the audit row (`service.exploration`); as JSON, e.g.
        `POLKU_EXPLORATION_OFFICES='["itakeskus"]'`. Default none: off everywhere.
    exploration_design : how those offices draw the first place (`models.exploration`):
        `posterior` (the probability of being best among up to 8 services not told apart
        from the top, with a floor, the top keeping at least 0.9; the default: in the
        simulated loop it cost no more and gave later off-policy estimates the support
        they need, docs/LEARNING_LOOP.md) or `near_ties` (the top keeps 0.5, at most two
        near-ties share the rest).
    """

    model_config = SettingsConfigDict(env_prefix="POLKU_", extra="ignore")

    environment: Literal["development", "production"] = "production"
    audit_db_url: str | None = None
    audit_owner_db_url: str | None = None
    audit_pool_size: int = Field(default=5, ge=1, le=100)
    audit_pool_overflow: int = Field(default=10, ge=0, le=100)
    hmac_key: SecretStr | None = None
    caseworker_keys: dict[str, SecretStr] = Field(default_factory=dict)
    data_scientist_keys: dict[str, SecretStr] = Field(default_factory=dict)
    evaluator_keys: dict[str, SecretStr] = Field(default_factory=dict)
    team_lead_keys: dict[str, SecretStr] = Field(default_factory=dict)
    caseworker_teams: dict[str, str] = Field(default_factory=dict)
    dev_keys: bool = False
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    retention_days: int = Field(default=365 * 5, ge=183)
    scheduled_retention: bool = True
    retention_every_hours: float = Field(default=24.0, gt=0)
    model_switch_refresh_seconds: float = Field(default=1.0, gt=0, le=60)
    reload_policy: Literal["manual", "poll"] = "manual"
    reload_poll_seconds: float = Field(default=30.0, gt=0)
    load_model_on_start: bool = True
    retry_after_seconds: int = Field(default=30, gt=0)
    limit_native_threads: bool = True
    audit_timeout_seconds: float = Field(default=10.0, gt=0)
    freeze_gc_after_start: bool = True
    session_db_url: str | None = None
    session_idle_minutes: float = Field(default=30.0, gt=0)
    session_max_hours: float = Field(default=8.0, gt=0)
    signin_attempts_per_minute: int = Field(default=10, ge=1)
    auth_failures_per_minute: int = Field(default=20, ge=1)
    api_requests_per_minute: int = Field(default=6000, ge=1)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=20.0, gt=0)
    exploration_offices: frozenset[str] = frozenset()
    exploration_design: Literal["near_ties", "posterior"] = "posterior"

    def resolved_audit_db_url(self) -> str:
        """The audit store's URL; the default SQLite file lives in the state directory."""
        if self.audit_db_url:
            return self.audit_db_url
        return f"sqlite:///{state_dir() / 'audit.sqlite3'}"

    def resolved_audit_owner_db_url(self) -> str:
        """The audit database as its owner (migrations, retention); default the service's."""
        return self.audit_owner_db_url or self.resolved_audit_db_url()

    def resolved_session_db_url(self) -> str:
        """The session store's URL: beside a SQLite audit file, else the audit database."""
        if self.session_db_url:
            return self.session_db_url
        audit = make_url(self.resolved_audit_db_url())
        database = audit.database
        if audit.get_backend_name() == "sqlite":
            if not database or database == ":memory:":
                return "sqlite://"
            return f"sqlite:///{Path(database).with_name('sessions.sqlite3')}"
        return audit.render_as_string(hide_password=False)

    def api_keys(self) -> dict[Role, dict[str, str]]:
        """Role -> label -> key, the development keys included when `dev_keys` is on."""
        configured: dict[Role, dict[str, SecretStr]] = {
            "caseworker": self.caseworker_keys,
            "data_scientist": self.data_scientist_keys,
            "evaluator": self.evaluator_keys,
            "team_lead": self.team_lead_keys,
        }
        keys: dict[Role, dict[str, str]] = {
            role: {label: key.get_secret_value() for label, key in configured[role].items()}
            for role in ROLES
        }
        if self.dev_keys:
            for role in ROLES:
                keys[role].update(DEV_KEYS[role])
        return keys


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return Settings()
