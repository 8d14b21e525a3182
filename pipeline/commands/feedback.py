"""`polku feedback`: join an audit export with a later outcome extract into training episodes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands.options import check_output, fail


def feedback(
    audit: Annotated[Path, typer.Argument(help="The audit export (`polku audit export`).")],
    outcomes: Annotated[
        Path,
        typer.Argument(
            help="The later outcome extract: client_key (or henkilotunnus / client_id), "
            "assessment_date, employed_6m, education_6m, employed_12m (0, 1 or empty)."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Where to write the episodes (.parquet or .csv).")
    ] = Path("feedback-episodes.parquet"),
    hmac_key_file: Annotated[
        Path | None,
        typer.Option(help="The service's HMAC secret (else $POLKU_HMAC_KEY or the local key)."),
    ] = None,
) -> None:
    """Join what Polku suggested and what caseworkers chose with the outcomes that followed.

    One episode per decided recommendation matched (by pseudonymous key, assessed up to 31
    days before the suggestion): what was shown, the first place and the probability it
    was shown with (where Polku randomised), the caseworker's choice, and the outcomes known
    so far. Every bad row and field of either input is named; the file is written whole or
    not at all.
    """
    from models.keys import derive_key
    from models.output_files import OutputPathError
    from pipeline.effects.audit import audit_key
    from pipeline.effects.estimators import EffectsError
    from pipeline.feedback.inputs import FeedbackError, check_audit, check_outcomes, read_table
    from pipeline.feedback.join import join_feedback, write_episodes

    check_output(
        out, "--out", {"AUDIT": audit, "OUTCOMES": outcomes, "--hmac-key-file": hmac_key_file}
    )
    try:
        checked_audit = check_audit(read_table(audit, "audit export"))
        extract = check_outcomes(read_table(outcomes, "outcome extract"))
        key = None
        if "client_key" not in extract.columns or extract["client_key"].isna().any():
            try:
                key = derive_key(audit_key(hmac_key_file), "pseudonym")
            except EffectsError as exc:
                raise FeedbackError(str(exc)) from None
        joined = join_feedback(checked_audit, extract, key)
        write_episodes(joined.episodes, out)
    except (FeedbackError, OutputPathError) as exc:
        raise fail(str(exc)) from None
    typer.echo(joined.summary())
    typer.echo(f"episodes written to {out}")


def register(app: typer.Typer) -> None:
    """Add `feedback` to the `polku` CLI."""
    app.command("feedback")(feedback)
