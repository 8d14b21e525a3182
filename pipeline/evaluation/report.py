"""The evaluation report: a JSON summary and a self-contained HTML page with plots.

Every file is written to a temporary name beside its target and renamed into place, so a
crash never leaves a half-written report. Plots are drawn on `matplotlib.figure.Figure`
directly (no pyplot state, no GUI backend), embedded in the page as PNG data and also
saved beside it.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
from matplotlib.figure import Figure

from models.output_files import atomic_write_bytes
from pipeline.evaluation.evaluate import Evaluation, best_allowed_uplift
from pipeline.evaluation.policies import POLICY_NAMES
from pipeline.evaluation.results import ByPolicy, EvaluationSummary, json_ready

POLICY_LABELS: Final = {
    "polku": "Polku",
    "caseworkers": "Caseworkers",
    "random": "Random allowed",
    "popular": "Most popular",
    "imitation": "Imitation",
    "oracle": "Oracle",
}
POLICY_TABLE_HEADER: Final = [
    "policy",
    "true value",
    "IPS",
    "SNIPS",
    "DR",
    "DR 95 % interval (clustered by client)",
    "matched episodes",
]
UPLIFT_LABEL: Final = "uplift (change in probability; 0.05 = 5 points)"
POLICY_COLOURS: Final = {
    "polku": "#1f6f8b",
    "caseworkers": "#99a3a4",
    "random": "#d5d8dc",
    "popular": "#c39bd3",
    "imitation": "#f0b27a",
    "oracle": "#2e4053",
}


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write `payload` as indented JSON (NaN as null), atomically."""
    text = json.dumps(json_ready(payload), indent=2, sort_keys=False, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def plot_policy_values(summary: EvaluationSummary) -> Figure:
    """Bars of each policy's true value, overall and within each group."""
    groupings = list(summary.by_group)
    figure = Figure(figsize=(11, 3.2 * (1 + len(groupings))))
    axes = figure.subplots(1 + len(groupings), 1, squeeze=False)[:, 0]
    sections: list[tuple[str, dict[str, ByPolicy[float]]]] = [
        ("all held-out episodes", {"all": summary.policy_value})
    ]
    for grouping, table in summary.by_group.items():
        sections.append((grouping, {label: entry.policy_value for label, entry in table.items()}))
    width = 0.8 / len(POLICY_NAMES)
    for ax, (title, section) in zip(axes, sections, strict=True):
        labels = list(section)
        x = np.arange(len(labels))
        # One row of heights per policy, one column per label.
        heights = np.array([list(values.values()) for values in section.values()]).T
        for i, name in enumerate(POLICY_NAMES):
            ax.bar(
                x + i * width,
                heights[i],
                width,
                label=POLICY_LABELS[name],
                color=POLICY_COLOURS[name],
            )
        ax.set_xticks(x + width * (len(POLICY_NAMES) - 1) / 2, labels)
        ax.set_ylabel(
            "true policy value"
            if summary.evaluation_kind == "truth"
            else "estimated policy value (doubly robust)"
        )
        ax.set_title(title)
    finite = [v for v in summary.policy_value.values() if math.isfinite(v)]
    top = max(finite) if finite else 1.0
    axes[0].set_ylim(0, max(top, 1e-3) * 1.3)  # room for the legend above the bars
    axes[0].legend(ncol=len(POLICY_NAMES), fontsize="small", loc="upper center")
    figure.tight_layout()
    return figure


def plot_calibration(summary: EvaluationSummary) -> Figure:
    """Reliability curve of the predicted outcome of the logged choice."""
    calibration = summary.calibration
    reliability = calibration.reliability
    predicted = np.asarray(reliability.mean_predicted, dtype=float)
    observed = np.asarray(reliability.observed_rate, dtype=float)
    count = np.asarray(reliability.count, dtype=float)
    figure = Figure(figsize=(5.5, 5))
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="perfectly calibrated")
    filled = count > 0
    ax.plot(
        predicted[filled],
        observed[filled],
        marker="o",
        color=POLICY_COLOURS["polku"],
        label="model",
    )
    ax.set_xlabel("mean predicted probability (logged choice)")
    ax.set_ylabel("observed rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"Brier {calibration.brier:.4f}, ECE {calibration.ece:.4f}")
    ax.legend(loc="upper left")
    return figure


def _bins(*arrays: np.ndarray, count: int) -> np.ndarray:
    """Shared histogram edges over the finite values of the arrays (any of them may be empty)."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.linspace(-0.1, 0.1, count)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        low, high = low - 0.01, high + 0.01
    return np.linspace(low, high, count)


def plot_uplift(
    evaluation: Evaluation, allowed: np.ndarray, true_outcomes: np.ndarray | None
) -> Figure:
    """Distributions of predicted uplift (every allowed service, and Polku's top-1) and truth.

    Without a truth only the predicted distributions are drawn; empty ones (no service the
    model ranks) leave an empty panel rather than failing.
    """
    n_services = allowed.shape[1]
    predicted = evaluation.predicted
    uplift = predicted[:, :n_services] - predicted[:, [n_services]]
    if true_outcomes is None:
        true_outcomes = np.full_like(predicted, np.nan)
    true_uplift = true_outcomes[:, :n_services] - true_outcomes[:, [n_services]]
    top = best_allowed_uplift(predicted, allowed)
    choice = evaluation.choices["polku"]
    has_choice = choice < n_services
    rows = np.flatnonzero(has_choice)
    top_true = true_uplift[rows, choice[has_choice]]
    figure = Figure(figsize=(11, 4))
    left, right = figure.subplots(1, 2)
    bins = _bins(uplift[allowed], true_uplift[allowed], count=50)
    shown_true = true_uplift[allowed][np.isfinite(true_uplift[allowed])]
    left.hist(shown_true, bins=bins, alpha=0.5, color="#2e4053", label="true")
    left.hist(
        uplift[allowed], bins=bins, alpha=0.6, color=POLICY_COLOURS["polku"], label="predicted"
    )
    left.set_title("uplift of every allowed service")
    left.set_xlabel(UPLIFT_LABEL)
    left.legend()
    top_bins = _bins(top, top_true, count=40)
    right.hist(
        top_true[np.isfinite(top_true)], bins=top_bins, alpha=0.5, color="#2e4053", label="true"
    )
    right.hist(
        top[np.isfinite(top)], bins=top_bins, alpha=0.6, color=POLICY_COLOURS["polku"],
        label="predicted",
    )  # fmt: skip
    right.set_title("uplift of Polku's top-1 service")
    right.set_xlabel(UPLIFT_LABEL)
    right.legend()
    figure.tight_layout()
    return figure


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _intervals_item(summary: EvaluationSummary) -> str:
    """The top suggestion's honesty (shown uplift and intervals against the truth), if any."""
    iv = summary.intervals
    if iv is None:
        return ""
    return (
        "<li>The top suggestion's shown uplift against its true uplift: mean "
        f"{_fmt(iv.top1_mean_shown)} against {_fmt(iv.top1_mean_true)} (ratio "
        f"{_fmt(iv.top1_predicted_vs_true, 2)}); nominal 90 % intervals held the truth for "
        f"<strong>{_fmt(iv.top1_interval_coverage, 3)}</strong> of top suggestions and "
        f"{_fmt(iv.interval_coverage, 3)} of all pairs; {_fmt(iv.top1_interval_includes_zero, 3)}"
        " of top intervals include zero</li>"
    )


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.{digits}f}"


def _other_objective_section(other: Mapping[str, Mapping[str, Any]] | None) -> str:
    """The same choices judged on each target the version does not rank by."""
    if not other:
        return ""
    rows = []
    for target, judged in other.items():
        overall = judged["overall"]
        for label, level in (("all", overall), *_levels(judged["by_group"])):
            dr = level["gains"]["dr"]
            rows.append(
                [
                    target,
                    label,
                    str(level["n_episodes"]),
                    _fmt(level["logged_value"]["estimate"]),
                    _fmt(level["values"]["dr"]["estimate"]),
                    f"{_fmt(dr['estimate'])} [{_fmt(dr['ci_low'])}, {_fmt(dr['ci_high'])}]",
                    _fmt(level["true_gain"]),
                ]
            )
    header = [
        "target",
        "group",
        "n",
        "caseworkers",
        "Polku (DR)",
        "Polku minus caseworkers (DR, 95 %)",
        "true difference",
    ]
    return (
        "<h2>The same choices judged on the other target</h2>\n<p>Polku's top-1 is ranked "
        "for this version's objective; here its effect on each other target is estimated "
        "on the same held-out episodes (a service can help one target and hurt the "
        "other).</p>\n" + _table(rows, header)
    )


def _levels(by_group: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Any]]:
    return [
        (f"{grouping}={label}", level)
        for grouping, table in by_group.items()
        for label, level in table.items()
    ]


def render_html(
    summary: EvaluationSummary,
    images: Mapping[str, bytes],
    title: str,
    other_objectives: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The report page: headline figures, tables, and the plots embedded as PNG data."""
    policy_rows = [
        [
            POLICY_LABELS[name],
            _fmt(estimates.true),
            _fmt(estimates.ips),
            _fmt(estimates.snips),
            _fmt(estimates.dr),
            f"[{_fmt(estimates.ci_low)}, {_fmt(estimates.ci_high)}]",
            str(estimates.matched_episodes),
        ]
        for name, estimates in summary.ope.items()
    ]
    difference = summary.ope_difference
    if difference is not None:
        policy_rows.append(
            [
                "Polku minus caseworkers",
                _fmt(difference.true),
                *(
                    _fmt(difference.intervals[k].estimate) if k in difference.intervals else ""
                    for k in ("ips", "snips", "dr")
                ),
                f"[{_fmt(difference.ci_low)}, {_fmt(difference.ci_high)}]",
                "",
            ]
        )
    kind = (
        "Judged on the world's truth: true values beside the off-policy estimates."
        if summary.evaluation_kind == "truth"
        else "Off-policy evaluation: no truth, so every value is estimated from the logged "
        "episodes alone (doubly robust is the headline; propensities "
        f"{(summary.propensity or {}).get('source', 'logged')})."
    )
    group_rows = []
    for grouping, table in summary.by_group.items():
        for label, entry in table.items():
            group_rows.append(
                [
                    grouping,
                    label,
                    str(entry.n),
                    *(_fmt(value) for value in entry.policy_value.values()),
                    _fmt(entry.oracle_gain_captured, 3),
                ]
            )
    figures = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(data).decode()}"><figcaption>{html.escape(name)}</figcaption></figure>'
        for name, data in images.items()
    )
    calibration = summary.calibration
    group_header = ["grouping", "group", "n", *(POLICY_LABELS[n] for n in POLICY_NAMES)]
    group_header.append("gain captured")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }}
th {{ background: #f4f6f7; }} td:first-child, td:nth-child(2) {{ text-align: left; }}
figure {{ margin: 1.5rem 0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p><strong>Evaluation kind: {html.escape(summary.evaluation_kind)}.</strong>
{html.escape(kind)}</p>
<p>{summary.n_episodes} held-out episodes of clients the model never saw in training.
True policy value: the mean true probability of the objective's outcome when every client
gets the policy's top-1 service (known only in the synthetic world).</p>
<ul>
<li>Share of the oracle's gain over the caseworkers captured by Polku:
<strong>{_fmt(summary.oracle_gain_captured, 3)}</strong></li>
<li>Top-3 coverage of the oracle's choice:
<strong>{_fmt(summary.top3_oracle_coverage, 3)}</strong></li>
<li>Calibration of the logged choice's predicted outcome: Brier {_fmt(calibration.brier)},
ECE {_fmt(calibration.ece)}; mean absolute error against the true probabilities
{_fmt(calibration.mean_abs_error_vs_truth)}</li>
{_intervals_item(summary)}
</ul>
<h2>Policies: true value and off-policy estimates from the logged data alone</h2>
{_table(policy_rows, POLICY_TABLE_HEADER)}
<h2>By group (audit only: gender and language group never reach the model)</h2>
{_table(group_rows, group_header)}
{_other_objective_section(other_objectives)}
<h2>Plots</h2>
{figures}
</body></html>
"""


# The plots of `report.html`, each a PNG beside it.
PLOTS = ("policy_values_by_group", "calibration_curve", "uplift_distributions")
# What `write_report` writes into its directory (the commands check each up front).
REPORT_FILES = (*(f"{name}.png" for name in PLOTS), "evaluation.json", "report.html")


def write_report(
    evaluation: Evaluation,
    allowed: np.ndarray,
    true_outcomes: np.ndarray | None,
    directory: Path,
    title: str = "Polku evaluation",
    other_objectives: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write `evaluation.json`, the plots (PNG) and `report.html` into `directory`.

    `other_objectives`: the same choices judged on the targets the version does not rank
    by (`pipeline.evaluation.other_objectives`), shown in their own table.

    Returns
    -------
    Path of `report.html`.
    """
    images = dict(
        zip(
            PLOTS,
            (
                _png(plot_policy_values(evaluation.summary)),
                _png(plot_calibration(evaluation.summary)),
                _png(plot_uplift(evaluation, allowed, true_outcomes)),
            ),
            strict=True,
        )
    )
    for name, data in images.items():
        atomic_write_bytes(directory / f"{name}.png", data)
    write_json(directory / "evaluation.json", evaluation.summary.to_json())
    page = directory / "report.html"
    atomic_write_bytes(
        page, render_html(evaluation.summary, images, title, other_objectives).encode()
    )
    return page
