"""`polku score DATA --out FILE.parquet`: a registered version's ranked services for a cohort.

DATA is a register directory (as `polku validate` reads it: every episode is scored) or one
CSV/Parquet table of profiles (every row is scored), either in the extract's own shape under
`--mapping FILE` (docs/EXTRACTS.md). All or nothing: any invalid row is
listed (file, row, field) on stderr, nothing is written and the exit status is 2. The model
comes from the registry (`--version N`, or the champion) and is hash-checked before use.
Details: `pipeline/scoring/cohort.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands.options import MappingOption, check_output, fail, mapping_failure

MAX_LISTED = 200


def score(
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="A register directory (clients and episodes: every episode is scored) or one "
            "CSV/Parquet table of profiles (every row is scored).",
            exists=True,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the ranked services (.parquet).")
    ],
    version: Annotated[
        str | None, typer.Option(help="Version of polku-ranker to score with.")
    ] = None,
    alias: Annotated[
        str | None,
        typer.Option(help="Score with the version holding this alias (champion, the default)."),
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(help="Rank by this objective instead of the version's training objective."),
    ] = None,
    top_k: Annotated[
        int | None,
        typer.Option(
            "--top-k", min=1, help="Keep each assessment's best K services (default all)."
        ),
    ] = None,
    mapping_path: MappingOption = None,
) -> None:
    """Rank the services of every assessment of a cohort with a registered version."""
    from models.bundle import IncompatibleModelError, RulesVersionError
    from models.catalog import CatalogError, load_catalog
    from models.objectives import DEFAULT_OBJECTIVE, Objective
    from models.output_files import OutputPathError
    from models.registry import (
        CHAMPION_ALIAS,
        ArtifactIntegrityError,
        RegistryError,
        load_champion,
        load_version,
    )
    from pipeline.data.mapping import MappingError, load_mapping
    from pipeline.scoring.cohort import (
        CohortError,
        read_cohort,
        score_cohort,
        write_parquet_atomically,
    )

    if out.suffix.lower() != ".parquet":
        raise fail(f"--out {out.name}: the output is Parquet; name it FILE.parquet")
    check_output(out, "--out", {"DATA": data, "--mapping": mapping_path})
    if version is not None and alias is not None:
        raise fail("give --version or --alias, not both")
    if alias is not None and alias != CHAMPION_ALIAS:
        raise fail(f"--alias {alias!r}: only the {CHAMPION_ALIAS!r} alias is kept")
    try:
        catalog = load_catalog()
        mapping = load_mapping(mapping_path) if mapping_path is not None else None
        cohort = read_cohort(data, catalog, mapping)
    except MappingError as exc:
        raise mapping_failure(exc) from None
    except CatalogError as exc:
        raise fail(str(exc)) from None
    except CohortError as exc:
        for problem in exc.errors[:MAX_LISTED]:
            typer.echo(str(problem), err=True)
        if len(exc.errors) > MAX_LISTED:
            typer.echo(f"... and {len(exc.errors) - MAX_LISTED} more", err=True)
        raise fail(f"{len(exc.errors)} problem(s) in {data}; nothing was written") from None
    try:
        loaded = load_version(version) if version is not None else load_champion()
    except (RegistryError, ArtifactIntegrityError, IncompatibleModelError) as exc:
        which = f"version {version}" if version is not None else f"the {CHAMPION_ALIAS}"
        raise fail(f"cannot load {which} of polku-ranker: {str(exc).splitlines()[0]}") from None
    try:
        chosen = Objective.parse(
            objective or str(loaded.model.metadata.get("objective", DEFAULT_OBJECTIVE))
        )
    except ValueError as exc:
        raise fail(f"--objective: {exc}") from None
    typer.echo(
        f"scoring {len(cohort):,} assessments with version {loaded.version} "
        f"(objective {chosen.name})"
    )
    try:
        table, summary = score_cohort(
            loaded.model, loaded.version, cohort, chosen, top_k=top_k, progress=typer.echo
        )
    except RulesVersionError as exc:
        raise fail(str(exc)) from None
    try:
        write_parquet_atomically(table, out)
    except OutputPathError as exc:
        raise fail(str(exc)) from None
    rate = summary.n_pairs / summary.seconds if summary.seconds > 0 else float("nan")
    typer.echo(
        f"{summary.n_scored:,} of {summary.n_assessments:,} assessments are clients; "
        f"{summary.n_pairs:,} ranked services in {summary.seconds:.1f} s "
        f"({rate:,.0f} pairs/s); wrote {out}"
    )


def register(app: typer.Typer) -> None:
    """Add `polku score` to the CLI."""
    app.command("score")(score)
