"""What if Polku had been followed: a model's top-1 policy against caseworkers' practice.

On the client episodes of a register: Polku's choice for each episode is the rankable
service with the largest predicted uplift on the objective
(`pipeline.evaluation.policies.polku_policy`, as in the evaluation report); the logged
practice is what the caseworker chose. Their values come from `pipeline.effects.policy` with
the logged propensities, the model's predicted outcomes as the doubly robust estimator's
outcome model, and intervals summed within clients. An episode whose objective outcome is
not yet observed (a censored register) is left out of every value and counted. Use a
register the model was not trained on (a later extract, or a world generated with another
seed): on its own training episodes the model looks better than it is, so
`run_policy_effects` refuses a register whose clients include the model's training clients
(`models.training_clients`) unless `allow_training_clients` is set, and then the text, the
JSON and the report say so.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.catalog import Catalog, load_catalog
from models.objectives import Objective, as_objective
from pipeline.effects.estimators import EffectsError, Estimate
from pipeline.effects.policy import POLICY_ESTIMATORS, POLICY_LABELS, PolicyEvaluation
from pipeline.effects.register import RegisterEpisodes, load_register, register_episodes

if TYPE_CHECKING:
    from models.bundle import PolkuModel
    from pipeline.data.mapping import ExtractMapping

# What `--report DIR` holds for `polku effects --policy champion`.
WHATIF_FILES = ("whatif.json", "whatif.html")


def policy_versus_logged(
    data: RegisterEpisodes,
    model: PolkuModel,
    objective: Objective | str,
    catalog: Catalog,
    *,
    true_outcomes: np.ndarray | None = None,
) -> PolicyEvaluation:
    """Polku's top-1 policy against the logged choices on `data`, overall and by group.

    Parameters
    ----------
    data : client episodes with their logged propensities (`register_episodes`)
    model : the model whose suggestions are evaluated (e.g. the champion)
    objective : the reward: the objective's mix of the 0/1 targets
    catalog : the services, in the order of `data.allowed`
    true_outcomes : optional true probability of the objective's outcome under each action,
        (n_client_episodes, n_services + 1), "none" last (synthetic worlds)

    The episodes whose reward is not yet observed (an outcome the objective weighs is
    blank) are left out, never read as 0, and counted in `n_unobserved`.
    """
    from models.actions import ActionSpace, uplift_over_no_service
    from pipeline.data.episodes import objective_rewards
    from pipeline.effects.policy import evaluate_policy
    from pipeline.evaluation.policies import polku_policy
    from pipeline.evaluation.scoring import predict_for_episodes

    if data.propensity is None:
        raise EffectsError(
            "the episodes carry no propensity column: off-policy values need the probability "
            "of each logged choice"
        )
    reward = objective_rewards(data.outcomes, objective)
    known = ~np.isnan(reward)
    if not known.any():
        raise EffectsError(
            f"no client episode has its {as_objective(objective).name} outcome observed yet: "
            "there is nothing to value the policy on"
        )
    predictions = predict_for_episodes(model, data.frame, catalog.ids, objective)
    uplift = uplift_over_no_service(predictions.outcomes)
    choice = polku_policy(uplift, data.allowed & predictions.rankable)
    evaluation = evaluate_policy(
        reward[known],
        ActionSpace(catalog.ids).indices(data.service_id)[known],
        data.propensity[known],
        choice[known],
        predictions.outcomes[known],
        clusters=data.clusters[known],
        groups={g: np.asarray(labels)[known] for g, labels in data.groups.items()},
        true_outcomes=None if true_outcomes is None else np.asarray(true_outcomes)[known],
    )
    return dataclasses.replace(evaluation, n_unobserved=int((~known).sum()))


def _unobserved_sentence(evaluation: PolicyEvaluation) -> str:
    """' N more await ...' when episodes were left out for an unknown outcome, else ''."""
    n = evaluation.n_unobserved
    if not n:
        return ""
    return (
        f" {n} more client episodes await the objective's outcome (not yet observed) and "
        "are left out."
    )


def _true_outcomes(
    directory: Path, data: RegisterEpisodes, objective: str, catalog: Catalog
) -> np.ndarray | None:
    """The register's truth for the client episodes, or None when it has none."""
    from pipeline.data.episodes import true_objective_outcomes
    from pipeline.data.layout import find_file
    from pipeline.data.truth import load_truth, truth_matrices

    try:
        find_file(directory, "truth")
    except FileNotFoundError:
        return None
    if data.episode_ids is None:
        return None
    matrices = truth_matrices(load_truth(directory, data.episode_ids, catalog=catalog), catalog)
    return true_objective_outcomes(matrices, objective)


def whatif_table(
    evaluation: PolicyEvaluation, objective: str, model_label: str, *, note: str | None = None
) -> str:
    """Fixed-width summary: logged practice and the policy's value and gain per estimator.

    `note` (e.g. that the register holds the model's training clients) heads the table.
    """
    o = evaluation.overall
    lines = [
        *([note, ""] if note else []),
        f"What if Polku ({model_label}) had been followed? Objective: {objective}",
        f"{o.n_episodes} client episodes; the caseworker chose Polku's top suggestion in "
        f"{o.n_matched}.{_unobserved_sentence(evaluation)} Intervals: 95 %, influence "
        "function summed within clients.",
        "",
        f"  {'':<32}{'value':>8}{'95% low':>9}{'95% high':>9}{'gain':>9}{'95% low':>9}"
        f"{'95% high':>9}",
        f"  {'logged practice':<32}{o.logged_value.estimate:>8.4f}{o.logged_value.ci_low:>9.4f}"
        f"{o.logged_value.ci_high:>9.4f}",
    ]
    for name in POLICY_ESTIMATORS:
        v, g = o.values[name], o.gains[name]
        lines.append(
            f"  {'Polku, ' + POLICY_LABELS[name]:<32}{v.estimate:>8.4f}{v.ci_low:>9.4f}"
            f"{v.ci_high:>9.4f}{g.estimate:>9.4f}{g.ci_low:>9.4f}{g.ci_high:>9.4f}"
        )
    if o.true_value is not None and o.true_logged_value is not None:
        lines.append(
            f"  {'truth (synthetic world)':<32}{o.true_value:>8.4f}{'':>18}"
            f"{o.true_value - o.true_logged_value:>9.4f}   (logged practice "
            f"{o.true_logged_value:.4f})"
        )
    lines += ["", "Gain by group (doubly robust):"]
    for grouping, levels in evaluation.by_group.items():
        for level, e in levels.items():
            g = e.gains["dr"]
            lines.append(
                f"  {grouping + ': ' + level:<40}{e.n_episodes:>7} episodes  {g.estimate:+.4f} "
                f"[{g.ci_low:+.4f}, {g.ci_high:+.4f}]"
            )
    warnings = [*o.warnings] + [
        f"{grouping} {level}: {w}"
        for grouping, levels in evaluation.by_group.items()
        for level, e in levels.items()
        for w in e.warnings
    ]
    lines += ["", *(f"Warning: {w}" for w in warnings)] if warnings else []
    lines.append(
        "Caveats: the values assume the logged propensities are right; the gain is that of "
        "following Polku's first suggestion every time, which no caseworker does."
    )
    return "\n".join(lines) + "\n"


def run_policy_effects(
    directory: Path,
    *,
    objective: str,
    json_out: Path | None = None,
    report: Path | None = None,
    catalog: Catalog | None = None,
    allow_training_clients: bool = False,
    mapping: ExtractMapping | None = None,
) -> str:
    """`polku effects DIR --policy champion`: the champion against logged practice.

    Refuses (`TrainingClientsError`) a register with clients the champion was trained on,
    unless `allow_training_clients`. With a `mapping`, the extract is read through it.
    """
    from models.registry import load_champion
    from models.training_clients import (
        check_training_overlap,
        overlap_json,
        overlap_note,
        training_overlap,
    )
    from pipeline.effects.report import to_json, write_atomic

    catalog = catalog or load_catalog()
    data = register_episodes(load_register(directory, catalog, mapping), catalog)
    try:
        loaded = load_champion()
    except Exception as exc:  # no registry, no champion alias, or a broken artifact
        raise EffectsError(f"cannot load the champion model: {exc}") from None
    overlap = training_overlap(
        loaded.model.metadata, data.frame["client_id"], data.frame["birth_date"]
    )
    check_training_overlap(overlap, allow_training_clients)
    evaluation = policy_versus_logged(
        data,
        loaded.model,
        objective,
        catalog,
        true_outcomes=_true_outcomes(directory, data, objective, catalog),
    )
    label = f"champion, version {loaded.version}"
    note = overlap_note(overlap) if overlap.any else None
    text = whatif_table(evaluation, objective, label, note=note)
    payload = to_json(
        {
            "objective": objective,
            "model_version": loaded.version,
            **evaluation.to_dict(),
            "training_overlap": overlap_json(overlap, allow_training_clients),
        }
    )
    if json_out is not None:
        write_atomic(json_out, payload)
        text += f"JSON written to {json_out}\n"
    if report is not None:
        json_name, page_name = WHATIF_FILES
        write_atomic(report / json_name, payload)
        write_atomic(report / page_name, whatif_html(evaluation, objective, label, note=note))
        text += f"HTML report written to {report / page_name}\n"
    return text


def gain_plot(evaluation: PolicyEvaluation) -> str:
    """Base64 PNG: the doubly robust gain overall and per group, with truth when known."""
    from matplotlib.figure import Figure

    from pipeline.effects.report import _png

    rows = [("overall", evaluation.overall)] + [
        (f"{grouping}: {level}", e)
        for grouping, levels in evaluation.by_group.items()
        for level, e in levels.items()
    ]
    figure = Figure(figsize=(7, 0.35 * len(rows) + 1.2))
    axes = figure.subplots()
    positions = np.arange(len(rows))[::-1]
    gains = [e.gains["dr"] for _, e in rows]
    axes.errorbar(
        [g.estimate for g in gains],
        positions,
        xerr=[[g.estimate - g.ci_low for g in gains], [g.ci_high - g.estimate for g in gains]],
        fmt="o",
        label="doubly robust gain, 95 %",
    )
    truths = [(p, e.true_gain) for p, (_, e) in zip(positions, rows, strict=True)]
    known = [(p, t) for p, t in truths if t is not None]
    if known:
        axes.scatter([t for _, t in known], [p for p, _ in known], marker="x", color="black",
                     label="true gain")  # fmt: skip
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set_yticks(positions, [label for label, _ in rows], fontsize=7)
    axes.set_xlabel("gain of following Polku over logged practice")
    axes.legend(loc="lower right", fontsize=7)
    return _png(figure)


def _interval(e: Estimate) -> str:
    return f"<td>{e.estimate:+.4f}</td><td>[{e.ci_low:+.4f}, {e.ci_high:+.4f}]</td>"


def _summary_rows(evaluation: PolicyEvaluation) -> str:
    """Logged practice, Polku by each estimator, and the truth when known."""
    o = evaluation.overall
    rows = [
        f"<tr><td>logged practice</td><td>{o.logged_value.estimate:.4f}</td>"
        f"<td>[{o.logged_value.ci_low:.4f}, {o.logged_value.ci_high:.4f}]</td>"
        "<td></td><td></td></tr>"
    ]
    for name in POLICY_ESTIMATORS:
        v = o.values[name]
        rows.append(
            f"<tr><td>Polku, {html.escape(POLICY_LABELS[name])}</td><td>{v.estimate:.4f}</td>"
            f"<td>[{v.ci_low:.4f}, {v.ci_high:.4f}]</td>{_interval(o.gains[name])}</tr>"
        )
    if o.true_value is not None and o.true_gain is not None:
        rows.append(
            f"<tr class=truth><td>truth (synthetic world)</td><td>{o.true_value:.4f}</td>"
            f"<td></td><td>{o.true_gain:+.4f}</td><td></td></tr>"
        )
    return (
        "<table class=values><tr><th>policy</th><th>value</th><th>95 % interval</th><th>gain</th>"
        "<th>95 % interval</th></tr>" + "".join(rows) + "</table>"
    )


def _group_rows(evaluation: PolicyEvaluation) -> str:
    """The doubly robust gain in each group, with the truth when known."""
    rows = []
    for grouping, levels in evaluation.by_group.items():
        for level, e in levels.items():
            truth = "" if e.true_gain is None else f"{e.true_gain:+.4f}"
            rows.append(
                f"<tr><td>{html.escape(grouping)}</td><td>{html.escape(level)}</td>"
                f"<td>{e.n_episodes}</td><td>{e.n_matched}</td>{_interval(e.gains['dr'])}"
                f"<td>{truth}</td></tr>"
            )
    return (
        "<table class=groups><tr><th>grouping</th><th>group</th><th>episodes</th>"
        "<th>followed Polku</th><th>gain (doubly robust)</th><th>95 % interval</th>"
        "<th>true gain</th></tr>" + "".join(rows) + "</table>"
    )


def whatif_html(
    evaluation: PolicyEvaluation, objective: str, model_label: str, *, note: str | None = None
) -> str:
    """A self-contained page: the values and gains as tables, the gain by group as a plot."""
    o = evaluation.overall
    warnings = [*o.warnings] + [
        f"{grouping} {level}: {w}"
        for grouping, levels in evaluation.by_group.items()
        for level, e in levels.items()
        for w in e.warnings
    ]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>What if Polku had been followed</title><style>body{font-family:sans-serif;"
        "max-width:64em;margin:1em auto}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px}"
        ".values td:nth-child(n+2),.groups td:nth-child(n+3){text-align:right}"
        ".truth{font-style:italic}.warn{background:#fff3cd;padding:.5em}img{max-width:100%}"
        "</style></head><body>",
        "<h1>What if Polku had been followed?</h1>",
        *([f"<div class=warn>{html.escape(note)}</div>"] if note else []),
        f"<p>Model: {html.escape(model_label)}. Objective: {html.escape(objective)}. "
        f"{o.n_episodes} client episodes; the caseworker chose Polku's top suggestion in "
        f"{o.n_matched}.{html.escape(_unobserved_sentence(evaluation))} Intervals: 95 %, "
        "influence function summed within clients.</p>",
        "<h2>Value of each policy, and Polku's gain over logged practice</h2>",
        _summary_rows(evaluation),
        "<h2>Gain by group</h2>",
        f'<img alt="gain by group" src="data:image/png;base64,{gain_plot(evaluation)}">',
        _group_rows(evaluation),
    ]
    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
        parts.append(f"<div class=warn><h2>Warnings</h2><ul>{items}</ul></div>")
    parts.append(
        "<p>Caveats: the values assume the logged propensities are right; the gain is that of "
        "following Polku's first suggestion every time, which no caseworker does.</p>"
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)
