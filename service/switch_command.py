"""`polku model-switch status|off|on`: the model's kill switch from the server's machine.

The same switch as `PUT /v1/admin/model-switch` (`service.model_switch`), written straight
into the audit database: for an operator who holds the database and the service's secret
(which keys the audit chain) when the API is not at hand. Every running worker follows
within `POLKU_MODEL_SWITCH_REFRESH_SECONDS`. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

switch_app = typer.Typer(
    help="The model's kill switch: off, answers are the eligibility gate's only (degraded).",
    no_args_is_help=True,
)

Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the audit).")]
By = Annotated[
    str | None,
    typer.Option("--by", help="Who switches (kept in the audit); default cli:<login name>."),
]


def _turn(model_on: bool, reason: str, by: str | None) -> None:
    from models.eligibility import current_rules_version
    from models.henkilotunnus import contains_henkilotunnus
    from service.audit import AuditStore
    from service.keys import service_keys
    from service.model_switch import ModelSwitch
    from service.settings import get_settings
    from service.versions import Versions

    reason = reason.strip()
    if not reason or contains_henkilotunnus(reason):
        raise typer.BadParameter(
            "give a reason, without a personal identity code", param_hint="--reason"
        )
    settings = get_settings()
    actor = (by or f"cli:{getpass.getuser()}")[:64]
    with AuditStore(
        settings.resolved_audit_db_url(), chain_key=service_keys(settings).audit_chain
    ) as store:
        # This process serves no model: only the rules in force are known here.
        versions = Versions(current_rules_version(), None, None, None)
        state, changed = ModelSwitch(store).turn(
            model_on,
            actor=actor,
            reason=reason,
            versions=versions,
            timeout=settings.audit_timeout_seconds,
        )
    word = "on" if state.model_on else "off (answers are the gate's only)"
    typer.echo(f"the model is {word}" + ("" if changed else "; it already was, nothing written"))


@switch_app.command("status")
def status() -> None:
    """Whether the model answers, and who switched it last, when and why."""
    from service.audit import AuditStore
    from service.model_switch import SwitchState
    from service.settings import get_settings

    store = AuditStore(get_settings().resolved_audit_db_url())
    try:
        state = SwitchState.from_record(store.latest_switch_event())
    finally:
        store.close()
    if state.changed_at is None:
        typer.echo("the model is on (never switched)")
        return
    typer.echo(
        f"the model is {'on' if state.model_on else 'off'} since {state.changed_at:%Y-%m-%d %H:%M} "
        f"UTC, switched by {state.changed_by}: {state.reason}"
    )


@switch_app.command("off")
def off(reason: Reason, by: By = None) -> None:
    """Switch the model off: recommendations become the gate's answer alone, marked degraded."""
    _turn(False, reason, by)


@switch_app.command("on")
def on(reason: Reason, by: By = None) -> None:
    """Switch the model on again."""
    _turn(True, reason, by)
