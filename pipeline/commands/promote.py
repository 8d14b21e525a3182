"""`polku promote` and `polku models`: move the champion alias, list registered versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.evaluation.promotion import DEFAULT_GROUP_TOLERANCE


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def promote(
    version: Annotated[str, typer.Option(help="The challenger version of polku-ranker.")],
    data: Annotated[
        Path | None,
        typer.Option(help="World to compare on; default: the challenger's training data."),
    ] = None,
    group_tolerance: Annotated[
        float,
        typer.Option(help="Largest drop of policy value allowed in any group."),
    ] = DEFAULT_GROUP_TOLERANCE,
) -> None:
    """Make a version champion if it is no worse than the champion, overall and per group."""
    from models.registry import RegistryError
    from pipeline.evaluation.promote import promote_version

    try:
        result = promote_version(
            version, data_dir=data, group_tolerance=group_tolerance, progress=typer.echo
        )
    except (ValueError, FileNotFoundError, RegistryError) as exc:
        raise _fail(str(exc).splitlines()[0]) from None
    if result.promoted:
        typer.echo(f"promoted: version {result.version} is the champion")
    else:
        typer.echo(f"not promoted: the champion stays version {result.champion_before}")
        raise typer.Exit(code=1)


def models() -> None:
    """List the registered versions of polku-ranker with aliases and key metrics."""
    from models.registry import list_versions

    rows = list_versions()
    if not rows:
        typer.echo("no registered versions yet: run `polku train --data DIR`")
        return
    typer.echo(
        f"{'version':>7}  {'aliases':<10} {'created (UTC)':<25} {'Polku':>7} {'casew.':>7} "
        f"{'oracle':>7} {'gain':>7} {'top-3':>7}  data"
    )
    for row in rows:
        typer.echo(
            f"{row.version:>7}  {','.join(row.aliases) or '-':<10} {row.created:<25} "
            f"{_metric(row.metrics, 'policy_value_polku'):>7} "
            f"{_metric(row.metrics, 'policy_value_caseworkers'):>7} "
            f"{_metric(row.metrics, 'policy_value_oracle'):>7} "
            f"{_metric(row.metrics, 'oracle_gain_captured', percent=True):>7} "
            f"{_metric(row.metrics, 'top3_oracle_coverage', percent=True):>7}  "
            f"{row.data_fingerprint[:12]}"
        )


def _metric(metrics: dict[str, float], key: str, *, percent: bool = False) -> str:
    value = metrics.get(key)
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}%" if percent else f"{value:.4f}"


def register(app: typer.Typer) -> None:
    """Add `polku promote` and `polku models` to the app."""
    app.command("promote")(promote)
    app.command("models")(models)
