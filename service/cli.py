"""`polku serve`, `polku run` and `polku audit export|prune|verify|migrate`: the service's
commands.

Added to the `polku` CLI by `register`. `polku run` runs the CLI's own `generate` and `train`
commands in this process, through the CLI it was called from, so this module needs no
pipeline import. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from models.objectives import DEFAULT_OBJECTIVE

APP_FACTORY = "service.main:create_app"


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    dev_keys: Annotated[
        bool,
        typer.Option(
            "--dev-keys",
            help="Accept the well-known DEVELOPMENT keys (dev-caseworker-key, "
            "dev-data-scientist-key, dev-evaluator-key, dev-team-lead-key). Your own machine "
            "only.",
        ),
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log one line per request.")] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the API, its OpenAPI docs and the caseworker page with uvicorn."""
    import uvicorn

    # Native thread pools are limited in each worker as the app starts (`service.threads`).
    if dev_keys:
        os.environ["POLKU_DEV_KEYS"] = "true"
        # The development keys imply a developer's machine (a local secret is then allowed).
        os.environ.setdefault("POLKU_ENVIRONMENT", "development")
        typer.secho(
            "DEVELOPMENT KEYS ENABLED: caseworker=dev-caseworker-key, "
            "data_scientist=dev-data-scientist-key, evaluator=dev-evaluator-key, "
            "team_lead=dev-team-lead-key",
            fg=typer.colors.YELLOW,
            err=True,
        )
    if workers > 1:
        # Each worker stops when this process is gone (`service.orphans`).
        from service.orphans import SUPERVISOR_ENV

        os.environ[SUPERVISOR_ENV] = str(os.getpid())
    if workers > 1 and "POLKU_RELOAD_POLICY" not in os.environ:
        # A reload request reaches one worker only: let every worker follow the alias.
        os.environ["POLKU_RELOAD_POLICY"] = "poll"
        typer.echo("several workers: each reloads when the champion alias moves (poll)", err=True)
    _refuse_a_wrong_setup()
    from service.access_log import log_config

    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The app writes the access line itself, with the request id (`service.access_log`).
        access_log=False,
        log_config=log_config(access_log=access_log, log_level=log_level),
        log_level=log_level,
        # uvloop sets TCP_NODELAY on every connection (asyncio misses it with --workers).
        loop=_best_loop(),
        http=_best_http(),
        # A worker imports pandas, scikit-learn and MLflow before it answers the supervisor's
        # ping; on a loaded machine that takes longer than uvicorn's 5 s, and the supervisor
        # would kill and restart it forever.
        timeout_worker_healthcheck=WORKER_STARTUP_SECONDS,
    )


WORKER_STARTUP_SECONDS = 60


def _refuse_a_wrong_setup() -> None:
    """Check the settings and keys as the app will, and say what is wrong in one message
    (exit 2) instead of letting every worker fail with a traceback."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from service.keys import KeyConfigurationError
    from service.main import ConfigurationError, checked_configuration
    from service.settings import get_settings

    try:
        checked_configuration(get_settings())
    except ValidationError as exc:
        problems = "; ".join(
            f"POLKU_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        _refuse(f"the service's settings are invalid: {problems}")
    except SettingsError as exc:  # a value that is not JSON where JSON is expected
        _refuse(f"the service's settings are invalid: {exc} (expected JSON)")
    except (ConfigurationError, KeyConfigurationError) as exc:
        _refuse(str(exc))


def _refuse(message: str) -> None:
    typer.secho(f"polku serve: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _best_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _best_http() -> str:
    """uvicorn's httptools protocol with header and body read timeouts added."""
    return "service.http_timeouts:TimedHttpToolsProtocol"


audit_app = typer.Typer(
    help="The audit store: export for evaluators, prune by retention, verify its hash chain, "
    "migrate its schema.",
    no_args_is_help=True,
)


def _check_out(out: Path) -> None:
    """Refuse an --out that cannot be written before the store is read (a usage error, 2);
    the rule is `models.output_files`, which the export's write raises from as well."""
    from models.output_files import OutputPathError, check_output_file

    try:
        check_output_file(out, "--out")
    except OutputPathError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", help="File to write: .csv, .jsonl or .parquet.")],
) -> None:
    """Write every suggestion joined with its decisions (no personal identity codes)."""
    from service.audit import AuditStore
    from service.settings import get_settings

    _check_out(out)
    store = AuditStore(get_settings().resolved_audit_db_url())
    try:
        count = store.export(out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    finally:
        store.close()
    typer.echo(f"wrote {count} rows to {out}")


@audit_app.command("export-inputs")
def audit_export_inputs(
    out: Annotated[Path, typer.Option("--out", help="File to write: .csv, .jsonl or .parquet.")],
) -> None:
    """Write each recommendation's model inputs, for `polku monitor` (no identity, no
    protected attribute: `service.audit.served_inputs`)."""
    from service.audit import AuditStore
    from service.audit.served_inputs import export_served_inputs
    from service.settings import get_settings

    _check_out(out)
    store = AuditStore(get_settings().resolved_audit_db_url())
    try:
        count = export_served_inputs(store.engine, out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    finally:
        store.close()
    typer.echo(f"wrote {count} rows to {out}")


@audit_app.command("prune")
def audit_prune(
    older_than_days: Annotated[
        int | None,
        typer.Option(
            "--older-than-days",
            min=1,
            help="Remove records older than this; default POLKU_RETENTION_DAYS.",
        ),
    ] = None,
) -> None:
    """Remove audit records past the retention age (suggestions with their decisions)."""
    from service.audit import AuditStore
    from service.keys import service_keys
    from service.settings import get_settings

    settings = get_settings()
    days = older_than_days or settings.retention_days
    # The key seals the tombstones that keep the hash chain linked across what is removed;
    # only the owner role may delete (PostgreSQL: the service's role may not).
    store = AuditStore(
        settings.resolved_audit_owner_db_url(), chain_key=service_keys(settings).audit_chain
    )
    try:
        result = store.prune(days)
    finally:
        store.close()
    typer.echo(
        f"removed {result.suggestions} suggestions and {result.decisions} decisions "
        f"older than {days} days"
    )


@audit_app.command("migrate")
def audit_migrate(
    grant_to: Annotated[
        str | None,
        typer.Option(
            "--grant-to",
            help="PostgreSQL role the service connects as: may then only read and append "
            "(default: the user of POLKU_AUDIT_DB_URL, when it is not the owner).",
        ),
    ] = None,
) -> None:
    """Bring the audit store to this Polku's schema revision, as the owner role
    (POLKU_AUDIT_OWNER_DB_URL), and limit the service's role to reading and appending."""
    from sqlalchemy.engine import make_url

    from service.audit import AuditStore, migrate
    from service.settings import get_settings

    settings = get_settings()
    owner_url = settings.resolved_audit_owner_db_url()
    store = AuditStore(owner_url)
    try:
        engine = store.engine  # migrated on first use, one process at a time
        if engine.dialect.name == "postgresql":
            service_user = make_url(settings.resolved_audit_db_url()).username
            owner_user = make_url(owner_url).username
            role = grant_to or (service_user if service_user != owner_user else None)
            if role:
                migrate.grant_service_role(engine, role)
                typer.echo(f"role {role} may read and append audit records, nothing more")
    except migrate.SchemaVersionError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    typer.echo(f"the audit store is at schema revision {migrate.head_revision()}")


@audit_app.command("verify")
def audit_verify(
    head: Annotated[
        list[str] | None,
        typer.Option(
            "--head",
            help="TABLE:ID:HASH, a head printed by an earlier run: it must still be in the "
            "chain (else rows were cut off the end). Repeatable.",
        ),
    ] = None,
) -> None:
    """Check the audit's hash chain; name the first row edited, inserted or removed."""
    from service.audit import AuditStore
    from service.keys import service_keys
    from service.settings import get_settings

    heads: dict[str, tuple[int, str]] = {}
    for given in head or []:
        parts = given.split(":")
        if len(parts) != 3 or not parts[1].isdigit():
            raise typer.BadParameter("expected TABLE:ID:HASH", param_hint="--head")
        heads[parts[0]] = (int(parts[1]), parts[2])
    settings = get_settings()
    store = AuditStore(
        settings.resolved_audit_db_url(), chain_key=service_keys(settings).audit_chain
    )
    try:
        result = store.verify(heads)
    finally:
        store.close()
    if result.broken is not None:
        typer.secho(f"BROKEN at {result.broken}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    for table, checked in result.checked.items():
        unchained = result.unchained.get(table, 0)
        note = f" ({unchained} older rows from before the chain)" if unchained else ""
        typer.echo(f"{table}: {checked} rows chained{note}")
    for table, (row_id, chain_hash) in result.heads.items():
        typer.echo(f"head {table}:{row_id}:{chain_hash}")
    typer.echo("the chain holds; keep the heads elsewhere and pass them as --head next time")


@audit_app.command("replay")
def audit_replay(
    plan: Annotated[Path, typer.Argument(help="A session plan (`polku replay` writes one).")],
    objective: Annotated[str, typer.Option(help="The objective to rank by.")] = DEFAULT_OBJECTIVE,
    top_k: Annotated[int, typer.Option(min=1, max=50, help="Suggestions per visit.")] = 5,
) -> None:
    """Record a planned caseworker session into the audit store, dated at its visits."""
    from models.objectives import Objective
    from service.audit import AuditUnavailableError
    from service.keys import KeyConfigurationError
    from service.replay import replay_plan_file
    from service.settings import get_settings

    try:
        summary = replay_plan_file(
            plan, get_settings(), objective=Objective.parse(objective), top_k=top_k
        )
    except (
        LookupError,
        ValueError,
        OSError,
        AuditUnavailableError,
        KeyConfigurationError,
    ) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    typer.echo(summary.describe())


def _step(ctx: typer.Context, args: list[str]) -> None:
    """Run another command of the `polku` CLI that `ctx` belongs to, in this process."""
    typer.secho(f"$ polku {' '.join(args)}", fg=typer.colors.CYAN, err=True)
    root = ctx.find_root()
    code = root.command.main(args, prog_name=root.info_name, standalone_mode=False)
    if isinstance(code, int) and code != 0:
        raise typer.Exit(code)


def run(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    clients: Annotated[
        int, typer.Option(min=1, help="Persons in a newly generated world.")
    ] = 10_000,
) -> None:
    """The whole main job on a fresh clone: a world and a champion if none, then serve.

    Serves with the development keys (printed at start): for your own machine only.
    """
    from models.state import default_data_dir
    from service.model_holder import champion_version

    world = default_data_dir()
    if not (world / "episodes.parquet").exists():
        _step(ctx, ["generate", "--clients", str(clients), "--seed", "0", "--out", str(world)])
    else:
        typer.echo(f"world found in {world}", err=True)
    if champion_version() is None:
        _step(ctx, ["train", "--data", str(world), "--promote-if-first"])
    else:
        typer.echo(f"champion found: version {champion_version()}", err=True)
    serve(host=host, port=port, workers=1, dev_keys=True, access_log=True, log_level="info")


def register(app: typer.Typer) -> None:
    """Add `serve`, `run` and the `audit` and `model-switch` groups to the `polku` CLI."""
    from service.switch_command import switch_app

    app.command("serve")(serve)
    app.command("run")(run)
    app.add_typer(audit_app, name="audit")
    app.add_typer(switch_app, name="model-switch")
