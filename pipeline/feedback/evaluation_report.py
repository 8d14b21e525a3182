"""`polku evaluate-feedback`'s outputs: `evaluation.json`, `report.md` and an MLflow run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Final

from models.output_files import atomic_write_bytes
from pipeline.feedback.evaluate import FeedbackEvaluation
from pipeline.feedback.ope import Estimate

JSON_NAME: Final = "evaluation.json"
MARKDOWN_NAME: Final = "report.md"
REPORT_FILES: Final = (JSON_NAME, MARKDOWN_NAME)
LABELS: Final = {
    "served_model_best_first": "the served model's best first",
    "candidate": "candidate",
}
# Below this support IPW leaves out much of the policy's choices: the report says so.
FULL_SUPPORT: Final = 0.999


def _interval(value: Estimate | None) -> str:
    if value is None or math.isnan(value.value):
        return "–"
    return f"{value.value:.4f} [{value.low:.4f}, {value.high:.4f}]"


def describe(result: FeedbackEvaluation) -> str:
    """One paragraph: what was read and the headline figures."""
    versions = ", ".join(result.model_versions) or "unknown"
    known = result.n_episodes + result.n_excluded
    check = result.training_period
    text = (
        f"{result.n_read} episodes read, {known} with the {result.objective} "
        f"outcome known ({result.n_unknown} not yet)"
        + ("" if check is None else f"; {check.sentence()}")
        + f"; {result.n_episodes} evaluated, {result.n_suggested} had a suggestion, "
        f"{result.n_randomised} with the first place randomised (logged probabilities); "
        f"served model versions {versions}. Served value {_interval(result.served)}."
    )
    for policy in result.policies:
        label = LABELS[policy.name]
        if policy.name == "candidate" and result.candidate_version is not None:
            label += f" (version {result.candidate_version})"
        text += (
            f" {label}: IPW {_interval(policy.ipw)}"
            + (f", DR {_interval(policy.dr)}" if policy.dr is not None else "")
            + f", support {policy.ipw.support:.1%}"
            + (
                f"; minus served (DR) {_interval(policy.difference_dr)}"
                if policy.difference_dr is not None
                else ""
            )
            + "."
        )
    return text


def markdown(result: FeedbackEvaluation) -> str:
    """The report as markdown: the episodes, the table of estimates, how to read it."""
    lines = [
        "# Off-policy evaluation of feedback episodes",
        "",
        describe(result),
        "",
        "| policy | IPW | DR | support | episodes where its choice was shown first | "
        "minus served (IPW) | minus served (DR) |",
        "|---|---|---|---:|---:|---|---|",
        f"| served (what Polku showed) | {_interval(result.served)} | – | 100 % | "
        f"{result.n_episodes} | – | – |",
    ]
    for policy in result.policies:
        lines.append(
            f"| {LABELS[policy.name]} | {_interval(policy.ipw)} | {_interval(policy.dr)} | "
            f"{policy.ipw.support:.1%} | {policy.n_matched} | "
            f"{_interval(policy.difference_ipw)} | {_interval(policy.difference_dr)} |"
        )
    lines += [
        "",
        "Values are the realised share of the objective's outcome when the policy's choice "
        "is shown first and caseworkers decide as they did (95 % normal intervals). "
        "*Support*: the share of episodes whose policy choice had a positive logged "
        "probability of the first place.",
    ]
    thin = [p for p in result.policies if p.ipw.support < FULL_SUPPORT]
    for policy in thin:
        lines.append(
            f"\n**{LABELS[policy.name]}: support {policy.ipw.support:.1%}.** In the other "
            "episodes nothing logged speaks for its choice: IPW counts them as zero (it is "
            "biased low there) and DR rests on the candidate's own outcome model for them."
        )
    check = result.training_period
    if check is not None and check.flattered:
        lines.append(
            f"\n**The estimates may be flattered:** {check.sentence()}. Judged on the episodes "
            "it learnt from a model looks better than it is (the simulated loop measured IPW "
            "+1.6 points, docs/LEARNING_LOOP.md)."
        )
    elif check is not None and not check.checked:
        lines.append(
            f"\n**Not checked against its training data:** {check.sentence()}. Judge it only "
            "on episodes assessed after its training data."
        )
    if not result.chances_logged:
        lines.append(
            "\nThe episodes carry no `first_place_probabilities` (older `polku feedback`): "
            "only the service shown first has a known chance, so support is understated."
        )
    return "\n".join(lines) + "\n"


def finite(payload: object) -> object:
    """`payload` with NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(payload, dict):
        return {k: finite(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [finite(v) for v in payload]
    if isinstance(payload, float) and not math.isfinite(payload):
        return None
    return payload


def write_report(result: FeedbackEvaluation, directory: Path) -> Path:
    """Write `evaluation.json` and `report.md` into `directory` (each whole or not at all)."""
    payload = json.dumps(finite(result.to_dict()), indent=2, allow_nan=False)
    atomic_write_bytes(directory / JSON_NAME, payload.encode())
    atomic_write_bytes(directory / MARKDOWN_NAME, markdown(result).encode())
    return directory / MARKDOWN_NAME


def log_to_mlflow(result: FeedbackEvaluation, report_dir: Path | None) -> str:
    """An `evaluate-feedback` run in Polku's experiment with the figures; its id."""
    from models.registry import training_run

    with training_run("evaluate-feedback") as run:
        tags = {"polku.kind": "feedback_evaluation", "polku.objective": result.objective}
        if result.candidate_version is not None:
            tags["polku.candidate_version"] = result.candidate_version
        check = result.training_period
        if check is not None:
            tags["polku.training_period"] = (
                "not_recorded" if not check.checked else "allowed" if check.flattered else "checked"
            )
        run.set_tags(tags)
        run.log_metrics(result.metrics())
        payload = finite(result.to_dict())
        assert isinstance(payload, dict)
        run.log_dict(payload, JSON_NAME)
        if report_dir is not None:
            run.log_artifacts(report_dir, "feedback-evaluation")
        run.describe(describe(result))
        return run.run_id
