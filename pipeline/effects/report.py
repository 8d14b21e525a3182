"""Show an effects run: a table for the terminal, JSON, and a self-contained HTML report.

Files are written to a temporary name beside the target and renamed into place, so a
reader never sees half a report.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.output_files import atomic_write_bytes
from pipeline.effects.diagnostics import HISTOGRAM_BINS, MAX_ABS_SMD
from pipeline.effects.estimators import ESTIMATOR_LABELS, ESTIMATORS

if TYPE_CHECKING:
    from pipeline.effects.analysis import ComparisonResult, EffectsResult


# What an effects report directory holds (the table's and the register's reports alike).
REPORT_JSON, REPORT_PAGE = "effects.json", "report.html"
REPORT_FILES = (REPORT_JSON, REPORT_PAGE)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` (text as UTF-8) to `path` atomically (`models.output_files`)."""
    atomic_write_bytes(path, data.encode() if isinstance(data, str) else data)


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(value: object) -> object:
    """NaN and infinities as null, so the JSON is strict."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def to_json(payload: dict[str, object]) -> str:
    """Strict JSON text (no NaN) of a result's dict."""
    return json.dumps(_finite(payload), indent=2, default=_json_default, allow_nan=False) + "\n"


def write_json(result: EffectsResult, path: Path) -> None:
    """The run's JSON (`estimates`, `diagnostics`, `warnings`, ...) written atomically."""
    write_atomic(path, to_json(result.to_dict()))


def comparison_table(comparison: ComparisonResult) -> str:
    """Fixed-width table of one comparison's estimates and arm diagnostics."""
    lines = [
        f"{comparison.label}  (treated n={comparison.n_treated}, control n={comparison.n_control})",
        f"  {'estimator':<24}{'estimate':>10}{'95% low':>10}{'95% high':>10}  interval",
    ]
    for name in ESTIMATORS:
        e = comparison.estimates[name]
        lines.append(
            f"  {ESTIMATOR_LABELS[name]:<24}{e.estimate:>10.4f}{e.ci_low:>10.4f}"
            f"{e.ci_high:>10.4f}  {e.ci_method}"
        )
    d = comparison.diagnostics
    lines.append(
        "  effective sample size: treated "
        f"{d.treated.effective_sample_size:.1f} of {d.treated.n_units}, control "
        f"{d.control.effective_sample_size:.1f} of {d.control.n_units}; largest weight share: "
        f"treated {d.treated.largest_weight_share:.1%}, "
        f"control {d.control.largest_weight_share:.1%}"
    )
    worst = max(d.balance, key=lambda r: abs(r.smd_after), default=None)
    if worst is not None:
        worst_before = max(abs(r.smd_before) for r in d.balance)
        lines.append(
            f"  balance: largest |SMD| {worst_before:.3f} before weighting, "
            f"{abs(worst.smd_after):.3f} after ({worst.covariate})"
        )
    return "\n".join(lines)


def text_report(result: EffectsResult) -> str:
    """What `polku effects` prints: the methods, each comparison's table, the warnings."""
    methods = result.methods
    head = [
        f"Effect of {result.treatment!r} on {result.outcome!r}: {methods['estimand']}",
        f"{result.n_rows} rows; covariates: {', '.join(result.covariates) or '(none)'}",
        f"propensity model: {methods['propensity_model']}; outcome model: "
        f"{methods['outcome_model']}; cross-fitting: {methods['cross_fitting']}",
        f"intervals: {methods['intervals']}",
        "",
    ]
    body = [comparison_table(c) + "\n" for c in result.comparisons]
    warnings = result.warnings
    tail = ["Warnings:", *(f"  - {w}" for w in warnings)] if warnings else ["No warnings."]
    return "\n".join(head + body + tail) + "\n"


def _png(figure: object) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buffer.getvalue()).decode()


def propensity_plot(comparison: ComparisonResult) -> str:
    """Base64 PNG: histograms of the propensity in each arm (overlap at a glance)."""
    from matplotlib.figure import Figure

    fit = comparison.fit
    figure = Figure(figsize=(6, 3.2))
    axes = figure.subplots()
    bins = np.linspace(0, 1, HISTOGRAM_BINS + 1).tolist()
    axes.hist(fit.propensity[fit.treated], bins=bins, alpha=0.6, density=True, label="treated")
    axes.hist(fit.propensity[~fit.treated], bins=bins, alpha=0.6, density=True, label="control")
    axes.set_xlabel("propensity (cross-fitted)")
    axes.set_ylabel("density")
    axes.set_title(f"Overlap: {comparison.label}")
    axes.legend()
    return _png(figure)


def love_plot(comparison: ComparisonResult) -> str:
    """Base64 PNG: |standardised mean difference| of each covariate before and after weighting."""
    from matplotlib.figure import Figure

    rows = sorted(comparison.diagnostics.balance, key=lambda r: abs(r.smd_before))
    figure = Figure(figsize=(6, max(2.5, 0.25 * len(rows) + 1)))
    axes = figure.subplots()
    positions = np.arange(len(rows))
    axes.scatter([abs(r.smd_before) for r in rows], positions, marker="o", label="before")
    axes.scatter([abs(r.smd_after) for r in rows], positions, marker="x", label="after weighting")
    axes.axvline(MAX_ABS_SMD, color="grey", linestyle="--", linewidth=1)
    axes.set_yticks(positions, [r.covariate for r in rows], fontsize=7)
    axes.set_xlabel("|standardised mean difference|")
    axes.set_title(f"Balance: {comparison.label}")
    axes.legend(loc="lower right")
    return _png(figure)


def _estimates_html(comparison: ComparisonResult) -> str:
    rows = "".join(
        f"<tr><td>{ESTIMATOR_LABELS[name]}</td><td>{e.estimate:.4f}</td><td>{e.ci_low:.4f}</td>"
        f"<td>{e.ci_high:.4f}</td><td>{html.escape(e.ci_method)}</td></tr>"
        for name, e in comparison.estimates.items()
    )
    return (
        "<table><tr><th>estimator</th><th>estimate</th><th>95 % low</th><th>95 % high</th>"
        f"<th>interval</th></tr>{rows}</table>"
    )


def _balance_html(comparison: ComparisonResult) -> str:
    rows = "".join(
        f"<tr{' class=bad' if abs(r.smd_after) > MAX_ABS_SMD else ''}><td>"
        f"{html.escape(r.covariate)}</td><td>{r.smd_before:+.3f}</td><td>{r.smd_after:+.3f}</td></tr>"
        for r in comparison.diagnostics.balance
    )
    return (
        "<table><tr><th>covariate</th><th>SMD before</th><th>SMD after weighting</th></tr>"
        f"{rows}</table>"
    )


def _img(alt: str, png_base64: str) -> str:
    return f'<img alt="{alt}" src="data:image/png;base64,{png_base64}">'


def html_report(result: EffectsResult) -> str:
    """A self-contained HTML page (plots inlined) of the whole run."""
    methods = result.methods
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Effects of {html.escape(result.treatment)} on "
        f"{html.escape(result.outcome)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px}"
        ".bad{background:#fdd}.warn{background:#fff3cd;padding:.5em}</style></head><body>",
        f"<h1>Effect of {html.escape(result.treatment)} on {html.escape(result.outcome)}</h1>",
        "<ul>",
        *(
            f"<li><b>{html.escape(k.replace('_', ' '))}</b>: {html.escape(str(v))}</li>"
            for k, v in methods.items()
        ),
        f"<li><b>data</b>: {html.escape(result.source)}, {result.n_rows} rows; covariates: "
        f"{html.escape(', '.join(result.covariates) or '(none)')}</li></ul>",
    ]
    warnings = result.warnings
    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
        parts.append(f"<div class=warn><h2>Warnings</h2><ul>{items}</ul></div>")
    else:
        parts.append("<p>No warnings.</p>")
    for comparison in result.comparisons:
        d = comparison.diagnostics
        parts += [
            f"<h2>{html.escape(comparison.label)}</h2>",
            f"<p>treated n={comparison.n_treated}, control n={comparison.n_control}; effective "
            f"sample size: treated {d.treated.effective_sample_size:.1f}, control "
            f"{d.control.effective_sample_size:.1f}; largest weight share: treated "
            f"{d.treated.largest_weight_share:.1%}, "
            f"control {d.control.largest_weight_share:.1%}</p>",
            _estimates_html(comparison),
            _img("propensity by arm", propensity_plot(comparison)),
            _img("love plot", love_plot(comparison)),
            "<h3>Balance</h3>",
            _balance_html(comparison),
        ]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_html_report(result: EffectsResult, directory: Path) -> Path:
    """Write `report.html` (and `effects.json` beside it) into `directory`; return the page."""
    page = directory / REPORT_PAGE
    write_atomic(directory / REPORT_JSON, to_json(result.to_dict()))
    write_atomic(page, html_report(result))
    return page
