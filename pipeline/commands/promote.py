"""`polku promote` and `polku models`: move the champion alias, list registered versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands.options import MappingOption, fail
from pipeline.evaluation.promotion_defaults import DEFAULT_MARGIN, DEFAULT_MIN_GROUP_EPISODES


def promote(
    version: Annotated[str, typer.Option(help="The challenger version of polku-ranker.")],
    data: Annotated[
        Path | None,
        typer.Option(help="World to compare on; default: the challenger's training data."),
    ] = None,
    margin: Annotated[
        float,
        typer.Option(
            help="How far below 0 the lower 95 % bound of challenger minus champion (doubly "
            "robust, paired by episode, clustered by client) may lie, overall and in any "
            "group big enough to block."
        ),
    ] = DEFAULT_MARGIN,
    min_group_episodes: Annotated[
        int,
        typer.Option(help="Groups with fewer held-out episodes are reported but cannot block."),
    ] = DEFAULT_MIN_GROUP_EPISODES,
    mapping_path: MappingOption = None,
) -> None:
    """Make a version champion unless it is credibly worse than the champion, overall or in
    a group of at least --min-group-episodes episodes (no truth needed)."""
    from models.registry import RegistryError
    from pipeline.evaluation.promote import promote_version

    try:
        result = promote_version(
            version,
            data_dir=data,
            margin=margin,
            min_group_episodes=min_group_episodes,
            progress=typer.echo,
            mapping_path=mapping_path,
        )
    except (ValueError, FileNotFoundError, RegistryError) as exc:
        raise fail(str(exc).splitlines()[0]) from None
    if result.promoted:
        typer.echo(f"promoted: version {result.version} is the champion")
    else:
        typer.echo(f"not promoted: the champion stays version {result.champion_before}")
        raise typer.Exit(code=1)


def models() -> None:
    """List the registered versions of polku-ranker with aliases and key metrics."""
    from models.registry_listing import read_versions

    rows = read_versions()
    if rows is None:  # not a SQLite store: MLflow reads it (seconds of imports)
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
