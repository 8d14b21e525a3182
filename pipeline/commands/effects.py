"""`polku effects`: effect estimates with diagnostics, on any table or on a Polku register.

A register extract in its own column names and codes is read through `--mapping FILE`
(`docs/EXTRACTS.md`), as `polku validate` and `polku train` read it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from models.objectives import DEFAULT_OBJECTIVE
from models.output_files import OutputPathError
from pipeline.commands.options import (
    MappingOption,
    check_output,
    check_output_dir,
    fail,
    mapping_failure,
)
from pipeline.effects.estimators import ESTIMANDS, EffectsError, Estimand

_DATA_HELP = (
    "A CSV (or Parquet) table with one row per unit, or a Polku register directory "
    "(with episodes.parquet) for the default per-service analysis."
)


def _echo_orfail(run: Callable[[], str], *also: type[Exception]) -> None:
    """Print what `run` returns, or its error (an unwritable output too) as a clean exit 2."""
    catch: tuple[type[Exception], ...] = (EffectsError, OutputPathError, *also)
    try:
        text = run()
    except catch as exc:
        raise fail(str(exc)) from None
    typer.echo(text)


def effects(
    data: Annotated[Path, typer.Argument(help=_DATA_HELP)],
    treatment: Annotated[
        str | None, typer.Option(help="Treatment column (which arm each unit was in).")
    ] = None,
    outcome: Annotated[
        str | None, typer.Option(help="Outcome column (numeric; 0/1 or a number).")
    ] = None,
    covariates: Annotated[
        str | None,
        typer.Option(help="Comma-separated covariate columns; default: every other column."),
    ] = None,
    estimand: Annotated[
        str | None,
        typer.Option(help="ate (both arms) or att (the treated); default ate, att for a register."),
    ] = None,
    treated_value: Annotated[str | None, typer.Option(help="Label of the treated arm.")] = None,
    control_value: Annotated[
        str | None,
        typer.Option(help="Label of the control arm; every other value is compared with it."),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(help="Column grouping rows that are not independent (e.g. a person id)."),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap draws for percentile intervals (0: influence function).")
    ] = 0,
    seed: Annotated[
        int, typer.Option(help="Seed of the cross-fitting folds and the bootstrap.")
    ] = 0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON here.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report with plots into this directory.")
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            help="Register only: 'champion' values the champion's suggestions against "
            "logged practice (off-policy, with intervals) instead of per-service effects."
        ),
    ] = None,
    objective: Annotated[
        str,
        typer.Option(help="Register with --policy or --audit: the objective (the outcome)."),
    ] = DEFAULT_OBJECTIVE,
    audit: Annotated[
        Path | None,
        typer.Option(
            help="Register only: an audit export (polku audit export); compares clients whose "
            "caseworker followed the top suggestion with those overridden, with caveats."
        ),
    ] = None,
    hmac_key_file: Annotated[
        Path | None,
        typer.Option(help="With --audit: the audit store's HMAC secret (else $POLKU_HMAC_KEY)."),
    ] = None,
    allow_training_clients: Annotated[
        bool,
        typer.Option(
            "--allow-training-clients",
            help="With --policy: value the champion even on a register holding clients it "
            "was trained on (refused otherwise); every output then says so.",
        ),
    ] = False,
    mapping_path: MappingOption = None,
) -> None:
    """Estimate the effect of a treatment on an outcome, with diagnostics and warnings."""
    if estimand is not None and estimand not in ESTIMANDS:
        raise fail(f"--estimand must be one of {', '.join(ESTIMANDS)}, not {estimand!r}")
    chosen: Estimand = "ate" if estimand == "ate" else "att"
    if estimand is None and not data.is_dir():
        chosen = "ate"
    if bootstrap < 0:
        raise fail("--bootstrap must be 0 or more")
    _check_outputs(data, json_out, report, policy=policy, audit=audit, key_file=hmac_key_file)
    table_options = (treatment, outcome, covariates, treated_value, control_value, cluster)
    if data.is_dir() and any(option is not None for option in table_options):
        raise fail(
            "--treatment, --outcome, --covariates, --treated-value, --control-value and "
            "--cluster apply to a table; a register directory uses the defaults of "
            "docs/EFFECTS.md (export the episodes to a table to choose them)"
        )
    if mapping_path is not None and not data.is_dir():
        raise fail(
            "--mapping applies to a register directory (an extract, docs/EXTRACTS.md); a "
            "table names its own columns with --treatment, --outcome and --covariates"
        )
    from pipeline.data.mapping import MappingError, load_mapping

    try:
        mapping = load_mapping(mapping_path) if mapping_path is not None else None
    except MappingError as exc:
        raise mapping_failure(exc, wrote_nothing=False) from None
    if audit is not None:
        if not data.is_dir() or policy is not None:
            raise fail("--audit needs a register directory as DATA, and no --policy")
        from pipeline.effects.audit import run_audit_effects

        _echo_orfail(
            lambda: run_audit_effects(
                data,
                audit,
                target=objective,
                estimand=chosen,
                n_bootstrap=bootstrap,
                seed=seed,
                key_file=hmac_key_file,
                json_out=json_out,
                report=report,
                mapping=mapping,
            )
        )
        return
    if policy is not None and (policy != "champion" or not data.is_dir()):
        raise fail("--policy takes 'champion' and needs a register directory as DATA")
    if policy is not None:
        from models.objectives import Objective
        from pipeline.effects.whatif import run_policy_effects

        _echo_orfail(
            lambda: run_policy_effects(
                data,
                objective=Objective.parse(objective).name,
                json_out=json_out,
                report=report,
                allow_training_clients=allow_training_clients,
                mapping=mapping,
            ),
            ValueError,  # an unknown objective, or the champion's training clients
        )
        return
    if data.is_dir():
        from pipeline.effects.register_report import run_register_effects

        _echo_orfail(
            lambda: run_register_effects(
                data,
                estimand=chosen,
                n_bootstrap=bootstrap,
                seed=seed,
                json_out=json_out,
                report=report,
                mapping=mapping,
            )
        )
        return
    if treatment is None or outcome is None:
        raise fail(
            "--treatment and --outcome are needed for a table (they are optional only "
            "for a register directory)"
        )
    from pipeline.effects.analysis import analyse
    from pipeline.effects.report import text_report, write_html_report, write_json
    from pipeline.effects.table import check_table, read_table

    names = None if covariates is None else [c.strip() for c in covariates.split(",") if c.strip()]
    try:
        table = check_table(
            read_table(data),
            treatment=treatment,
            outcome=outcome,
            covariates=names,
            treated_value=treated_value,
            control_value=control_value,
            cluster=cluster,
        )
        result = analyse(
            table,
            estimand=chosen,
            n_bootstrap=bootstrap,
            seed=seed,
            source=str(data),
        )
    except EffectsError as exc:
        raise fail(str(exc)) from None
    typer.echo(text_report(result))
    try:
        if json_out is not None:
            write_json(result, json_out)
            typer.echo(f"JSON written to {json_out}")
        if report is not None:
            page = write_html_report(result, report)
            typer.echo(f"HTML report written to {page}")
    except OutputPathError as exc:
        raise fail(str(exc)) from None


def _check_outputs(
    data: Path,
    json_out: Path | None,
    report: Path | None,
    *,
    policy: str | None,
    audit: Path | None,
    key_file: Path | None,
) -> None:
    """Refuse an unwritable --json or --report before the estimation (exit 2)."""
    from pipeline.effects.report import REPORT_FILES

    inputs = {"DATA": data, "--audit": audit, "--hmac-key-file": key_file}
    check_output(json_out, "--json", inputs)
    if report is None:
        return
    files: tuple[str, ...] = REPORT_FILES
    if policy is not None and audit is None:
        from pipeline.effects.whatif import WHATIF_FILES

        files = WHATIF_FILES
    check_output_dir(report, "--report", files, inputs)


def register(app: typer.Typer) -> None:
    """Add `polku effects` to the CLI."""
    app.command("effects")(effects)
