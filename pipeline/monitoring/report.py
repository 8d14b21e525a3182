"""The monitoring report: an HTML page with plots and a JSON of every figure."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models.output_files import atomic_write_bytes

if TYPE_CHECKING:
    from pipeline.monitoring.run import MonitorResult


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def _bars(labels: list[str], values: list[float], title: str, xlabel: str, line: float) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, max(2.5, 0.25 * len(labels) + 1)))
    axes = figure.subplots()
    positions = np.arange(len(labels))
    axes.barh(positions, values, color="tab:blue")
    axes.axvline(line, color="tab:red", linestyle="--", linewidth=1, label="alert threshold")
    axes.set_yticks(positions, labels, fontsize=7)
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    axes.legend(loc="lower right", fontsize=7)
    return _png(figure)


def _calibration_plot(calibration: pd.DataFrame) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.subplots()
    parts = calibration[calibration["service_id"] != "all"]
    axes.scatter(parts["predicted"], parts["realised"], s=np.sqrt(parts["n"].astype(float)) * 4)
    axes.plot([0, 1], [0, 1], "k--", linewidth=1)
    axes.set_xlabel("predicted outcome of what was taken")
    axes.set_ylabel("realised outcome")
    axes.set_title("Outcomes by service taken (size: episodes)")
    return _png(figure)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="", border=0)


def html_report(result: MonitorResult) -> str:
    """The page: alerts first, then drift, closures, overrides and outcomes."""
    t = result.thresholds
    drift = result.drift.sort_values("psi", ascending=False, na_position="last")
    sections = [
        "<h1>Polku monitoring</h1>",
        f"<p>{html.escape(result.describe())}</p>",
        "<h2>Alerts</h2>",
        (
            "<ul>" + "".join(f"<li>{html.escape(a)}</li>" for a in result.alerts) + "</ul>"
            if result.alerts
            else "<p>None: every figure is within its threshold.</p>"
        ),
        "<h2>Drift of the model inputs (PSI)</h2>",
        f'<img src="data:image/png;base64,{_bars(list(drift["feature"]), list(drift["psi"].fillna(0)), "Served against training", "population stability index", t.psi)}">',  # noqa: E501
        _table(drift),
        "<h2>Closed services</h2>",
        _table(
            pd.DataFrame(
                [
                    {"population": "served", **result.served_closures},
                    {"population": "training", **result.training_closures},
                ]
            )
        ),
        "<h2>Overrides of the first place</h2>",
        f"<p>Overall {result.override_rate:.1%} of {result.n_decisions} decisions.</p>",
    ]
    by_service = result.overrides[result.overrides["by"] == "service"]
    if len(by_service):
        sections.append(
            f'<img src="data:image/png;base64,{_bars(list(by_service["name"]), list(by_service["override_rate"]), "Override rate by first place shown", "share overridden", t.override_rate)}">'  # noqa: E501
        )
    sections.append(_table(result.overrides))
    sections.append("<h2>Realised against predicted outcomes</h2>")
    if len(result.calibration):
        sections.append(
            f'<img src="data:image/png;base64,{_calibration_plot(result.calibration)}">'
        )
        sections.append(_table(result.calibration))
    else:
        sections.append("<p>No outcomes given (or none joined yet).</p>")
    body = "\n".join(sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Polku monitoring</title><style>body{font-family:sans-serif;max-width:60em;"
        "margin:2em auto}table{border-collapse:collapse;font-size:.85em}td,th{padding:.2em"
        " .6em;border-bottom:1px solid #ddd}</style></head><body>" + body + "</body></html>"
    )


REPORT_JSON, REPORT_PAGE = "monitoring.json", "report.html"
REPORT_FILES = (REPORT_JSON, REPORT_PAGE)


def write_report(result: MonitorResult, directory: Path) -> Path:
    """`report.html` and `monitoring.json` in `directory`, each written atomically."""
    page = directory / REPORT_PAGE
    atomic_write_bytes(
        directory / REPORT_JSON,
        json.dumps(result.to_dict(), indent=2, default=str).encode(),
    )
    atomic_write_bytes(page, html_report(result).encode())
    return page
