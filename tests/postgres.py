"""A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary directory,
`pg_ctl start` on a free loopback port, stopped and removed at the end of the session.

Two roles are made, as in a deployment (docs/DEPLOYMENT.md): `polku_owner` owns the audit
tables and runs migrations and retention; `polku_service`, the role the API connects as, may
only read and append. Each test database is created fresh (`new_database`).

Run as root (a CI container), the cluster runs as Debian's `postgres` user, since PostgreSQL
refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REQUIRE_ENV: Final = "POLKU_REQUIRE_POSTGRES"
SUPERUSER: Final = "postgres"
OWNER_ROLE: Final = "polku_owner"
SERVICE_ROLE: Final = "polku_service"
_TOOLS: Final = ("initdb", "pg_ctl")


def find_bin_dir() -> Path | None:
    """The directory of `initdb` and `pg_ctl`: on PATH, else Debian's newest install."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all((Path(candidate) / tool).exists() for tool in _TOOLS):
            return Path(candidate)
    return None


def why_unavailable() -> str | None:
    """Why a cluster cannot be started here (None when it can)."""
    if find_bin_dir() is None:
        return (
            "PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install "
            "postgresql; .ci/run does it): the PostgreSQL half of the audit tests is SKIPPED"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]'): PostgreSQL tests SKIPPED"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return "running as root without a `postgres` user to run the cluster as"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresDatabase:
    """One fresh database of the cluster and the URLs of its two roles."""

    name: str
    owner_url: str
    service_url: str


class PostgresCluster:
    """A PostgreSQL server of its own, in a temporary directory (see the module docstring)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="polku-pg-"))
        self.data_dir = self.root / "data"
        self.log_path = self.root / "server.log"
        self.port = _free_port()
        self._run_as = self._unprivileged_user()
        self._names = itertools.count(1)

    @staticmethod
    def _unprivileged_user() -> pwd.struct_passwd | None:
        return pwd.getpwnam(SUPERUSER) if os.geteuid() == 0 else None

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self._run_as is not None:
            command = ["runuser", "-u", self._run_as.pw_name, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            raise RuntimeError(f"{tool} failed:\n{done.stdout}\n{done.stderr}\n{log[-3000:]}")

    def start(self, *, durable: bool = False) -> PostgresCluster:
        """initdb and start; returns once the server accepts connections.

        `durable` keeps PostgreSQL's fsync on (the benchmarks: a commit costs what it would in
        a deployment); the tests turn it off.
        """
        if self._run_as is not None:
            os.chown(self.root, self._run_as.pw_uid, self._run_as.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",  # loopback only, for one test session; roles still apply
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c max_connections=200 -c shared_buffers=32MB"
        )
        if not durable:
            # The tests kill Polku, never this server: a commit is safe from their kill -9
            # once PostgreSQL has it; fsync would guard against power loss, at seconds a test.
            options += " -c fsync=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options, "-w",
            "start",
        )  # fmt: skip
        self.execute(
            f"CREATE ROLE {OWNER_ROLE} LOGIN",
            f"CREATE ROLE {SERVICE_ROLE} LOGIN",
        )
        return self

    def stop(self) -> None:
        """Stop the server (no checkpoint: its data is thrown away) and remove its directory."""
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def postmaster_pid(self) -> int:
        """The server's process id (first line of postmaster.pid)."""
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])

    def url(self, role: str, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` as `role` (psycopg 3 over loopback TCP)."""
        return f"postgresql+psycopg://{role}@127.0.0.1:{self.port}/{database}"

    def execute(self, *statements: str, database: str = "postgres", role: str = SUPERUSER) -> None:
        """Run statements outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} dbname={database} user={role}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]  # test-made SQL

    def new_database(self) -> PostgresDatabase:
        """A fresh, empty database owned by the owner role, the service role let in.

        The schema is the owner's: as in a deployment, the service role cannot create
        tables, so the store's schema exists only once the owner has migrated it.
        """
        name = f"polku_test_{next(self._names)}"
        self.execute(
            f"CREATE DATABASE {name} OWNER {OWNER_ROLE}",
            f"GRANT CONNECT ON DATABASE {name} TO {SERVICE_ROLE}",
        )
        self.execute(
            f"ALTER SCHEMA public OWNER TO {OWNER_ROLE}",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            f"GRANT USAGE ON SCHEMA public TO {SERVICE_ROLE}",
            database=name,
        )
        return PostgresDatabase(name, self.url(OWNER_ROLE, name), self.url(SERVICE_ROLE, name))
