"""A register's per-service effects shown: the terminal table, the HTML report with forest plots,
plots and tables by group and warnings, and `polku effects DIR` that writes them.

The page leads, per target, with the services of largest effect and a plot per grouping;
the full service table and the group table (services x groupings x groups, hundreds of
rows) are folded into `<details>`, open on a click.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.catalog import Catalog, load_catalog
from models.objectives import TARGETS
from pipeline.effects.analysis import ESTIMAND_WORDS
from pipeline.effects.estimators import Estimand
from pipeline.effects.register import (
    GROUPINGS,
    REGISTER_COVARIATES,
    RegisterEffects,
    ServiceEffect,
    load_register,
    register_episodes,
    service_effects,
)
from pipeline.effects.report import REPORT_JSON, REPORT_PAGE, _png, to_json, write_atomic

if TYPE_CHECKING:
    from pipeline.data.mapping import ExtractMapping

# Services in the main table (largest AIPW effect first) and in each plot by group (the
# most used: a group estimate of a rare service is mostly noise, or absent).
TOP_SERVICES = 10
GROUP_PLOT_SERVICES = 8


def by_effect(effects: list[ServiceEffect]) -> list[ServiceEffect]:
    """The services of one target, largest AIPW effect first."""
    return sorted(effects, key=lambda e: -e.estimates["aipw"].estimate)


def group_plot(effects: list[ServiceEffect], target: str, grouping: str) -> str:
    """Base64 PNG: the AIPW effect with its 95 % interval in each group, for the most used
    services (one row per service, one marker colour per group)."""
    from matplotlib.figure import Figure

    shown = sorted(effects, key=lambda e: -e.n_treated)[:GROUP_PLOT_SERVICES]
    levels = list(dict.fromkeys(level for e in shown for level in e.groups.get(grouping, {})))
    figure = Figure(figsize=(7, max(2.5, 0.45 * len(shown) + 1.2)))
    axes = figure.subplots()
    positions = np.arange(len(shown))[::-1]
    step = 0.7 / max(len(levels), 1)
    for j, level in enumerate(levels):
        offset = 0.35 - step * (j + 0.5)
        points = [(p, e.groups[grouping][level].estimates["aipw"])
                  for p, e in zip(positions, shown, strict=True)
                  if level in e.groups.get(grouping, {})]  # fmt: skip
        axes.errorbar(
            [a.estimate for _, a in points],
            [p + offset for p, _ in points],
            xerr=[
                [a.estimate - a.ci_low for _, a in points],
                [a.ci_high - a.estimate for _, a in points],
            ],
            fmt="o",
            markersize=4,
            label=level,
        )
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(positions, [e.service_id for e in shown], fontsize=7)
    axes.set_xlabel(f"effect on {target} (probability), AIPW with 95 % interval")
    axes.set_title(
        f"By {grouping.replace('_', ' ')}: the {len(shown)} most used services", fontsize=9
    )
    axes.legend(loc="lower right", fontsize=7, title=grouping, title_fontsize=7)
    return _png(figure)


def _img(alt: str, png_base64: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png_base64}">'


def forest_plot(effects: list[ServiceEffect], target: str) -> str:
    """Base64 PNG: each service's AIPW effect with its 95 % interval, and the naive difference."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, max(2.5, 0.3 * len(effects) + 1)))
    axes = figure.subplots()
    positions = np.arange(len(effects))[::-1]
    aipw = [e.estimates["aipw"] for e in effects]
    axes.errorbar(
        [a.estimate for a in aipw],
        positions,
        xerr=[[a.estimate - a.ci_low for a in aipw], [a.ci_high - a.estimate for a in aipw]],
        fmt="o",
        label="AIPW, 95 %",
    )
    axes.scatter(
        [e.estimates["difference_in_means"].estimate for e in effects],
        positions,
        marker="x",
        color="grey",
        label="naive difference",
    )
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(positions, [e.service_id for e in effects], fontsize=7)
    axes.set_xlabel(f"effect on {target} (probability)")
    axes.legend(loc="lower right", fontsize=7)
    return _png(figure)


def _service_rows(effects: list[ServiceEffect]) -> str:
    """The services' table; a column of episodes left out (outcome not yet observed) when
    any service has some."""
    unobserved = any(e.n_unobserved for e in effects)
    rows = []
    for e in effects:
        a, naive = e.estimates["aipw"], e.estimates["difference_in_means"]
        left_out = f"<td>{e.n_unobserved}</td>" if unobserved else ""
        rows.append(
            f"<tr><td>{html.escape(e.service_name)}</td><td>{e.n_treated}</td>"
            f"<td>{e.n_control}</td>{left_out}<td>{a.estimate:+.3f}</td><td>{a.ci_low:+.3f}</td>"
            f"<td>{a.ci_high:+.3f}</td><td>{naive.estimate:+.3f}</td>"
            f"<td>{len(e.warnings)}</td></tr>"
        )
    return (
        "<table><tr><th>service</th><th>treated</th><th>control</th>"
        + ("<th>unknown</th>" if unobserved else "")
        + "<th>AIPW</th><th>95 % low</th><th>95 % high</th><th>naive</th><th>warnings</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def unobserved_note(result: RegisterEffects, target: str) -> str:
    """A sentence on the client episodes left out of `target` (empty when none were)."""
    n = result.n_unobserved.get(target, 0)
    if not n:
        return ""
    return (
        f"{n} of {result.n_episodes} client episodes left out: their {target} outcome is "
        "not yet observed. Each comparison uses its episodes with a known outcome "
        "(unknown: how many of its episodes it left out)"
    )


def _skipped_items(result: RegisterEffects) -> list[tuple[str, str]]:
    """Every (service, reason) not estimated: whole services, then per target."""
    return [
        *result.skipped.items(),
        *(
            (f"{sid}, {target}", why)
            for target, services in result.skipped_by_target.items()
            for sid, why in services.items()
        ),
    ]


def _group_rows(effects: list[ServiceEffect]) -> str:
    rows = []
    for e in effects:
        for grouping, levels in e.groups.items():
            for level, g in levels.items():
                a = g.estimates["aipw"]
                rows.append(
                    f"<tr><td>{html.escape(e.service_id)}</td><td>{grouping}</td>"
                    f"<td>{html.escape(level)}</td><td>{g.n_treated}</td><td>{g.n_control}</td>"
                    f"<td>{a.estimate:+.3f}</td><td>{a.ci_low:+.3f}</td><td>{a.ci_high:+.3f}</td></tr>"
                )
    return (
        "<table><tr><th>service</th><th>grouping</th><th>group</th><th>treated</th>"
        "<th>control</th><th>AIPW</th><th>95 % low</th><th>95 % high</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _overlap_rows(result: RegisterEffects) -> str:
    rows = []
    for service_id, d in result.diagnostics.items():
        worst = max((abs(r.smd_after) for r in d.balance), default=0.0)
        rows.append(
            f"<tr><td>{html.escape(service_id)}</td><td>{d.treated.effective_sample_size:.0f}"
            f"</td><td>{d.control.effective_sample_size:.0f}</td>"
            f"<td>{d.control.largest_weight_share:.1%}</td><td>{worst:.3f}</td>"
            f"<td>{len(d.warnings)}</td></tr>"
        )
    return (
        "<table><tr><th>service</th><th>effective treated</th><th>effective control</th>"
        "<th>largest control weight share</th><th>largest |SMD| after weighting</th>"
        "<th>overlap/balance warnings</th></tr>" + "".join(rows) + "</table>"
    )


def register_html(result: RegisterEffects) -> str:
    """A self-contained page: methods, warnings, and per target a forest plot and tables."""
    payload = result.to_dict()
    methods = payload["methods"]
    assert isinstance(methods, dict)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>Effects of Polku's services</title>",
        "<style>body{font-family:sans-serif;max-width:64em;margin:1em auto}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:2px 6px}.warn{background:#fff3cd;padding:.5em}img{max-width:100%}"
        "summary{cursor:pointer;margin:.5em 0}</style></head><body>",
        "<h1>Effect of each service against none</h1><ul>",
        *(
            f"<li><b>{html.escape(k.replace('_', ' '))}</b>: {html.escape(str(v))}</li>"
            for k, v in methods.items()
        ),
        f"<li><b>data</b>: {result.n_episodes} client episodes of {result.n_all_episodes}</li>",
        "</ul>",
    ]
    for target in TARGETS:
        effects = result.by_target(target)
        if not effects:
            continue
        ranked = by_effect(effects)
        note = unobserved_note(result, target)
        parts += [
            f"<h2>{html.escape(target)}</h2>",
            *([f"<p>{html.escape(note)}.</p>"] if note else []),
            _img("forest plot", forest_plot(effects, target)),
            f"<h3>The {min(TOP_SERVICES, len(ranked))} services of largest effect</h3>",
            _service_rows(ranked[:TOP_SERVICES]),
            f"<details><summary>All {len(ranked)} services</summary>",
            _service_rows(ranked),
            "</details>",
            "<h3>By group (AIPW)</h3>",
            *(
                _img(f"effect by {grouping}", group_plot(effects, target, grouping))
                for grouping in GROUPINGS
            ),
            "<details><summary>Every service in every group (table)</summary>",
            _group_rows(ranked),
            "</details>",
        ]
    parts += ["<h2>Overlap and balance by service</h2>", _overlap_rows(result)]
    skipped = _skipped_items(result)
    if skipped:
        items = "".join(f"<li>{html.escape(s)}: {html.escape(w)}</li>" for s, w in skipped)
        parts.append(f"<h2>Not estimated</h2><ul>{items}</ul>")
    if result.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
        parts.append(f"<div class=warn><h2>Warnings</h2><ul>{items}</ul></div>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_register_report(result: RegisterEffects, directory: Path) -> Path:
    """Write `report.html` and `effects.json` into `directory` atomically; return the page."""
    page = directory / REPORT_PAGE
    write_atomic(directory / REPORT_JSON, to_json(result.to_dict()))
    write_atomic(page, register_html(result))
    return page


def effects_table(result: RegisterEffects) -> str:
    """Fixed-width table per target: each service's AIPW effect and the naive difference."""
    lines = [
        f"Effect of each service against none: {ESTIMAND_WORDS[result.estimand]}",
        f"{result.n_episodes} client episodes (of {result.n_all_episodes}); adjusted for "
        f"{', '.join(REGISTER_COVARIATES)}",
        "",
    ]
    for target in TARGETS:
        note = unobserved_note(result, target)
        unobserved = any(e.n_unobserved for e in result.by_target(target))
        lines.append(f"{target}:")
        if note:
            lines.append(f"  {note}.")
        lines.append(
            f"  {'service':<34}{'treated':>8}{'control':>8}"
            + (f"{'unknown':>8}" if unobserved else "")
            + f"{'AIPW':>9}{'95% low':>9}{'95% high':>9}{'naive':>9}  warnings"
        )
        for e in result.by_target(target):
            a, naive = e.estimates["aipw"], e.estimates["difference_in_means"]
            lines.append(
                f"  {e.service_id[:33]:<34}{e.n_treated:>8}{e.n_control:>8}"
                + (f"{e.n_unobserved:>8}" if unobserved else "")
                + f"{a.estimate:>9.3f}{a.ci_low:>9.3f}{a.ci_high:>9.3f}{naive.estimate:>9.3f}  "
                f"{len(e.warnings)}"
            )
        lines.append("")
    skipped = _skipped_items(result)
    if skipped:
        lines.append("Not estimated (too few episodes):")
        lines += [f"  {sid}: {why}" for sid, why in skipped]
    lines.append(
        "Group estimates (age band, language group, long-term unemployment) and every "
        "warning are in the JSON and the HTML report."
    )
    return "\n".join(lines) + "\n"


def run_register_effects(
    directory: Path,
    *,
    estimand: Estimand = "att",
    n_bootstrap: int = 0,
    seed: int = 0,
    json_out: Path | None = None,
    report: Path | None = None,
    catalog: Catalog | None = None,
    mapping: ExtractMapping | None = None,
) -> str:
    """`polku effects DIR`: estimate, write the JSON and report asked for, return the table.

    With a `mapping`, the extract is read through it (`pipeline.data.mapping`).
    """
    catalog = catalog or load_catalog()
    data = register_episodes(load_register(directory, catalog, mapping), catalog)
    result = service_effects(data, catalog, estimand=estimand, n_bootstrap=n_bootstrap, seed=seed)
    text = effects_table(result)
    if json_out is not None:
        write_atomic(json_out, to_json(result.to_dict()))
        text += f"JSON written to {json_out}\n"
    if report is not None:
        page = write_register_report(result, report)
        text += f"HTML report written to {page}\n"
    return text
