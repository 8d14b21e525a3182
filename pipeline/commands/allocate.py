"""`polku allocate COHORT --out FILE.parquet`: each client at most one service, within places.

COHORT is read as `polku score` reads it (a register directory or one table of profiles,
`--mapping` for the extract's own shape); `--from`/`--to` keep the assessments of a period.
The places of each service for the period are the catalog's `monthly_capacity` scaled to
the period's days (times `--share`, an office's part of Helsinki's places), or an office's
`--capacity` file. The total expected uplift of the objective is maximised exactly (HiGHS
through scipy; `models.allocation`); the solver's status and time are printed and kept in
the summary (`FILE.summary.json`). Details: `pipeline/allocation/plan.py`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands.options import MappingOption, check_output, fail, mapping_failure

MAX_LISTED = 200


def _listed(errors: tuple[object, ...], source: Path) -> typer.Exit:
    for problem in errors[:MAX_LISTED]:
        typer.echo(str(problem), err=True)
    if len(errors) > MAX_LISTED:
        typer.echo(f"... and {len(errors) - MAX_LISTED} more", err=True)
    return fail(f"{len(errors)} problem(s) in {source}; nothing was written")


def allocate(
    cohort_path: Annotated[
        Path,
        typer.Argument(
            metavar="COHORT",
            help="A register directory or one CSV/Parquet table of profiles.",
            exists=True,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the allocation (.parquet).")],
    start: Annotated[
        dt.datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day of the period."),
    ] = None,
    end: Annotated[
        dt.datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day of the period (inclusive)."),
    ] = None,
    capacity: Annotated[
        Path | None,
        typer.Option(help="The office's places: CSV of service_id, places.", exists=True),
    ] = None,
    share: Annotated[
        float,
        typer.Option(min=0.001, help="The office's share of the catalog places."),
    ] = 1.0,
    uncertainty: Annotated[
        str | None,
        typer.Option(
            help="shrunk, lower (a --quantile of the uplift), raw, or ranked (the shown "
            "uplift says who gains, the ranking which service). Default: "
            "models.allocation.DEFAULT_UNCERTAINTY (ranked).",
            show_default=False,
        ),
    ] = None,
    quantile: Annotated[
        float, typer.Option(help="The quantile of --uncertainty lower, in (0, 0.5).")
    ] = 0.25,
    group_by: Annotated[
        str | None,
        typer.Option(
            help="With --group-floor: age_band, language_group, gender or long_term_unemployed."
        ),
    ] = None,
    group_floor: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Every group gets this share of the mean expected gain."
        ),
    ] = None,
    do_no_harm: Annotated[
        bool,
        typer.Option(
            "--do-no-harm/--allow-harm",
            help="Floor every group at what today's practice gives it, by the estimates.",
        ),
    ] = True,
    preferences: Annotated[
        Path | None,
        typer.Option(help="CSV of client_id, service_id, preference.", exists=True),
    ] = None,
    preference_weight: Annotated[
        float, typer.Option(min=0.0, help="Value added to a preferred service.")
    ] = 0.02,
    version: Annotated[str | None, typer.Option(help="Version of polku-ranker to use.")] = None,
    objective: Annotated[
        str | None, typer.Option(help="Maximise this objective (default: the version's).")
    ] = None,
    time_limit: Annotated[float, typer.Option(min=1.0, help="Seconds the solver may take.")] = 60.0,
    mapping_path: MappingOption = None,
) -> None:
    """Allocate a cohort to services within each service's places for the period."""
    import numpy as np
    import pandas as pd

    from models.allocation import DEFAULT_UNCERTAINTY, AllocationError, period_places
    from models.bundle import IncompatibleModelError, RulesVersionError
    from models.catalog import CatalogError, load_catalog
    from models.objectives import DEFAULT_OBJECTIVE, Objective
    from models.output_files import OutputPathError
    from models.registry import (
        ArtifactIntegrityError,
        RegistryError,
        load_champion,
        load_version,
    )
    from pipeline.allocation.capacity import CapacityFileError, read_capacity
    from pipeline.allocation.output import summary_path, write_allocation
    from pipeline.allocation.plan import AllocationOptions, allocate_cohort, summary
    from pipeline.allocation.preferences import PreferencesFileError, read_preferences
    from pipeline.data.mapping import MappingError, load_mapping
    from pipeline.scoring.cohort import CohortError, read_cohort

    if out.suffix.lower() != ".parquet":
        raise fail(f"--out {out.name}: the output is Parquet; name it FILE.parquet")
    inputs = {
        "COHORT": cohort_path,
        "--capacity": capacity,
        "--preferences": preferences,
        "--mapping": mapping_path,
    }
    check_output(out, "--out", inputs)
    check_output(summary_path(out), "--out (its summary)", inputs)
    try:
        options = AllocationOptions(
            uncertainty=DEFAULT_UNCERTAINTY if uncertainty is None else uncertainty,
            do_no_harm=do_no_harm,
            quantile=quantile,
            group_by=group_by,
            group_floor=group_floor,
            preference_weight=preference_weight,
            time_limit=time_limit,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    if start is not None and end is not None and end < start:
        raise fail("--to is before --from")
    try:
        mapping = load_mapping(mapping_path) if mapping_path is not None else None
        cohort = read_cohort(cohort_path, load_catalog(), mapping)
    except MappingError as exc:
        raise mapping_failure(exc) from None
    except CatalogError as exc:
        raise fail(str(exc)) from None
    except CohortError as exc:
        raise _listed(exc.errors, cohort_path) from None

    dates = pd.to_datetime(cohort.frame["assessment_date"]).to_numpy(dtype="datetime64[D]")
    if not len(dates):
        raise fail("the cohort holds no assessment; nothing was written")
    first = np.datetime64(start.date(), "D") if start is not None else dates.min()
    last = np.datetime64(end.date(), "D") if end is not None else dates.max()
    keep = (dates >= first) & (dates <= last)
    if not keep.any():
        raise fail("no assessment of the cohort falls in the period; nothing was written")
    frame = cohort.frame.loc[keep].reset_index(drop=True)
    keys = cohort.keys[keep]
    days = int((last - first).astype(np.int64)) + 1

    try:
        loaded = load_version(version) if version is not None else load_champion()
    except (RegistryError, ArtifactIntegrityError, IncompatibleModelError) as exc:
        which = f"version {version}" if version is not None else "the champion"
        raise fail(f"cannot load {which} of polku-ranker: {str(exc).splitlines()[0]}") from None
    model = loaded.model
    try:
        chosen = Objective.parse(
            objective or str(model.metadata.get("objective", DEFAULT_OBJECTIVE))
        )
    except ValueError as exc:
        raise fail(f"--objective: {exc}") from None
    catalog = model.catalog
    columns = np.array([catalog.index(s) for s in model.service_ids], dtype=np.int64)
    places = period_places(catalog, days, share)
    try:
        if capacity is not None:
            places = read_capacity(capacity, catalog, places)
    except CapacityFileError as exc:
        raise _listed(exc.errors, capacity or cohort_path) from None
    prefs = None
    try:
        if preferences is not None:
            prefs = read_preferences(preferences, frame["client_id"].to_numpy(), catalog)
    except PreferencesFileError as exc:
        raise _listed(exc.errors, preferences or cohort_path) from None
    if prefs is not None:
        prefs = type(prefs)(prefs.permitted[:, columns], prefs.preferred[:, columns])
    typer.echo(
        f"allocating {len(frame):,} assessments ({first} to {last}, {days} days) with version "
        f"{loaded.version} (objective {chosen.name}, {options.uncertainty} estimates)"
    )
    try:
        result = allocate_cohort(
            model,
            frame,
            keys,
            cohort.key_column,
            chosen,
            places[columns],
            options,
            prefs,
        )
    except RulesVersionError as exc:
        raise fail(str(exc)) from None
    except AllocationError as exc:
        raise fail(f"{exc}; nothing was written") from None
    clients = result.clients.assign(objective=chosen.name, model_version=loaded.version)
    try:
        written = write_allocation(
            clients,
            summary(
                result,
                {
                    "period": {"from": str(first), "to": str(last), "days": days},
                    "objective": chosen.name,
                    "uncertainty": options.uncertainty,
                    "quantile": options.quantile if options.uncertainty == "lower" else None,
                    "model_version": loaded.version,
                    "capacity": str(capacity.name)
                    if capacity is not None
                    else f"catalog x {share:g}",
                    "group_by": options.group_by,
                    "group_floor": options.group_floor,
                    "preferences": preferences is not None,
                },
            ),
            out,
        )
    except OutputPathError as exc:
        raise fail(str(exc)) from None
    a = result.allocation
    typer.echo(
        f"solver {a.status} in {a.seconds:.2f} s ({a.n_variables:,} pairs); "
        f"{int(clients['service_id'].notna().sum()):,} of {len(clients):,} allocated, expected "
        f"gain {np.nansum(clients['uplift']):.1f}; wrote {out} and {written.name}"
    )
    if result.do_no_harm != "floors":
        typer.echo(f"do-no-harm floors: {result.do_no_harm}")
    elif a.binding:
        typer.echo(f"do-no-harm and group floors that moved the allocation: {', '.join(a.binding)}")
    full = result.services[(result.services["left"] == 0) & (result.services["places"] > 0)]
    if len(full):
        typer.echo(f"services with every place used: {', '.join(full['service_id'])}")


def register(app: typer.Typer) -> None:
    """Add `polku allocate` to the CLI."""
    app.command("allocate")(allocate)
