"""`polku replay`: a simulated caseworker session over a register, so its audit can be analysed.

Decisions recorded today never match a 2021-2023 register's assessments; this replays a
seeded sample of the assessments through the service at their own dates (the service's
`polku audit replay`, run through the CLI this command belongs to: the pipeline does not
import the service), records the register's logged choice as each decision, and exports
the audit store for `polku effects DIR --audit`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from models.objectives import DEFAULT_OBJECTIVE, TARGETS
from pipeline.commands.options import check_output, fail


def _step(ctx: typer.Context, args: list[str]) -> None:
    """Run another command of the `polku` CLI that `ctx` belongs to, in this process."""
    typer.secho(f"$ polku {' '.join(args)}", fg=typer.colors.CYAN, err=True)
    root = ctx.find_root()
    code = root.command.main(args, prog_name=root.info_name, standalone_mode=False)
    if isinstance(code, int) and code != 0:
        raise typer.Exit(code)


def replay(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="A register directory (a generated world).")],
    assessments: Annotated[
        int, typer.Option(min=1, help="Assessments to replay, sampled (seeded) from the register.")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    objective: Annotated[str, typer.Option(help="The objective the service ranks by.")] = (
        DEFAULT_OBJECTIVE
    ),
    top_k: Annotated[int, typer.Option(min=1, max=50, help="Suggestions per visit.")] = 5,
    out: Annotated[
        Path, typer.Option(help="Where to export the audit store (.csv, .jsonl, .parquet).")
    ] = Path("audit.csv"),
    plan_out: Annotated[
        Path | None, typer.Option(help="Keep the session plan (JSON lines) here.")
    ] = None,
) -> None:
    """Replay a caseworker session over a register's assessments at their own dates.

    The service suggests (the champion, as the API does) and the register's logged service
    is recorded as the decision, both dated at the assessment, into the audit store (actor
    `replay`); the store is then exported to --out for `polku effects DATA --audit OUT`.
    No personal identity code is sent, logged or written.
    """
    from models.output_files import OutputPathError
    from models.session_plan import write_plan
    from pipeline.effects.estimators import EffectsError
    from pipeline.replay.plan import plan_register

    if not data.is_dir():
        raise fail(f"{str(data)!r} is not a register directory")
    check_output(out, "--out", {"DATA": data})
    check_output(plan_out, "--plan-out", {"DATA": data, "--out": out})
    try:
        visits = plan_register(data, n_visits=assessments, seed=seed)
    except EffectsError as exc:
        raise fail(str(exc)) from None
    # A replay of a synthetic world is a developer's or evaluator's walk on their own machine
    # (as `polku run` is): without a configured environment it uses the local secret, as
    # `polku effects --audit` then does.
    unconfigured = "POLKU_ENVIRONMENT" not in os.environ and "POLKU_HMAC_KEY" not in os.environ
    if unconfigured:
        os.environ["POLKU_ENVIRONMENT"] = "development"
    try:
        with tempfile.TemporaryDirectory(prefix="polku-replay-") as scratch:
            plan = plan_out or Path(scratch) / "session.jsonl"
            try:
                count = write_plan(visits, plan)
            except OutputPathError as exc:
                raise fail(str(exc)) from None
            typer.echo(f"planned {count} visits from {data}", err=True)
            _step(
                ctx,
                ["audit", "replay", str(plan), "--objective", objective, "--top-k", str(top_k)],
            )
        _step(ctx, ["audit", "export", "--out", str(out)])
    finally:
        if unconfigured:  # this command's choice, not the process's from now on
            os.environ.pop("POLKU_ENVIRONMENT", None)
    outcome = objective if objective in TARGETS else "employment_12m"
    typer.echo(f"next: polku effects {data} --audit {out} --objective {outcome}")


def register(app: typer.Typer) -> None:
    """Add `polku replay` to the CLI."""
    app.command("replay")(replay)
