"""Benchmark: allocating a cohort within places, judged on the synthetic truth.

For each cell of size x seed x capacity: generate a world (`pipeline.synth.world`; a baseline
one unless `--scenario` names another of the family or the alien world, `bench/worlds.py`), fit
Polku as `polku train` does (`fit_model`: 75 % of the clients), and take the held-out
assessments as one cohort arriving in assessment-date order. Every policy gives each client
at most one service within the same places, and is scored by its **true total gain**: the
sum over clients of the true uplift (objective outcome with the service minus without, the
world's truth) of the service it gave:

- `optimal`: `polku allocate`'s programme with its defaults
  (`pipeline.allocation.plan.allocate_scores`): the `ranked` reading (the pairs the shown
  uplift says help, valued by the model's own uplift, `models.allocation.ranked_values`) and
  the do-no-harm floors (no group below what today's practice gives it by the estimates,
  less a lower-confidence slack); `optimal_allow_harm` without the floors; `optimal_shrunk`
  on the shown (shrunk) uplift, the default before `ranked`; `optimal_lower` on its 25 %
  quantile; `optimal_raw` on the model's own (stacked, unshrunk) uplift alone;
  `optimal_fair`: with every language group at >= 90 % of the mean expected gain;
- `greedy`: in arrival order each client takes their best service (by the same values as
  `optimal`) that still has places, if it is expected to help: top-1 until places run out,
  then the next best, as the online "full, next best" does;
- `caseworkers`: the logged caseworker choice in arrival order while its service has places,
  none once it is full;
- `random`: in arrival order a uniformly random allowed service that still has places;
- `oracle`: the same programme solved on the true uplifts (the capacity-constrained best),
  over the pairs Polku may offer (the gate, the catalog's limits and the ranker's support:
  the model's information), without floors.

Where the gap to the oracle comes from: the true gain of every client's own Polku top-1
with no places, as a share of the unconstrained oracle (every client's true best), is what
the estimates allow; the optimum's share of that top-1, against the oracle's share of its
own unconstrained best, is what the places cost the programme on the estimates beside what
they cost it on the truth. The product of the two is the optimum's share of the oracle.

Groups: each group's mean true gain per client against the caseworkers', with its standard
error (paired over the group's clients: the cohort is one draw of them).

Capacities: `catalog` scales each service's `monthly_capacity` to the cohort as the
generator's caseworkers see it (`monthly_capacity x cohort / HELSINKI_ASSESSMENTS_PER_MONTH`,
`pipeline.synth.caseworkers`); `scarce` then cuts the places of the `SCARCE_SERVICES` services
that are most often a client's true best to `SCARCITY` of that demand (a capacity override of
the bench, not a generator change), so capacity binds where it matters most.

Time: the scoring and the solve of a cohort of `TIME_ROWS` assessments (resampled from the
held-out ones) x the model's services.

Run: `nice -n 10 .venv/bin/python bench/bench_allocation.py --sizes 10000,30000 --seeds 0,1,2`
(another world: `--scenario alien`, into `bench/results/allocation_alien.json` and the section
`allocation_alien`)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from benchmarks_md import write_section
from worlds import ALIEN, draw_world, scenario_names

from models.allocation import (
    DEFAULT_UNCERTAINTY,
    DO_NO_HARM_Z,
    NO_SERVICE,
    AllocationError,
    pair_values,
    solve_allocation,
)
from models.bundle import FrameScores
from models.groupings import group_labels
from pipeline.allocation.plan import AllocationOptions, allocate_scores
from pipeline.data.world import load_world
from pipeline.synth.caseworkers import HELSINKI_ASSESSMENTS_PER_MONTH
from pipeline.synth.world import write_world
from pipeline.threads import limited_threads, numeric_threads
from pipeline.training.settings import TrainSettings
from pipeline.training.train import fit_model

RESULTS_JSON: Final = Path(__file__).resolve().parent / "results" / "allocation.json"
POLICIES: Final = (
    "optimal",
    "optimal_allow_harm",
    "optimal_lower",
    "optimal_raw",
    "optimal_shrunk",
    "optimal_fair",
    "greedy",
    "caseworkers",
    "random",
    "oracle",
)
CAPACITIES: Final = ("catalog", "scarce")
BASELINE: Final = "baseline"
SCARCE_SERVICES: Final = 5
SCARCITY: Final = 0.3
FAIR_FLOOR: Final = 0.9
TIME_ROWS: Final = 10_000
TIME_REPEATS: Final = 3
CAPTURE_GOAL: Final = 0.90
TIME_GOAL_SECONDS: Final = 10.0

Progress = Callable[[str], None]


# -- the policies ------------------------------------------------------------------------------


def greedy_in_arrival(
    order: np.ndarray, key: np.ndarray, allowed: np.ndarray, places: np.ndarray
) -> np.ndarray:
    """Each client in turn takes their best-keyed allowed service with places (key > 0)."""
    left = places.astype(np.int64).copy()
    keyed = np.where(allowed & (key > 0), key, -np.inf)
    ranked = np.argsort(-keyed, axis=1, kind="stable")
    service = np.full(len(key), NO_SERVICE, dtype=np.int64)
    for i in order:
        for j in ranked[i]:
            if not np.isfinite(keyed[i, j]):
                break
            if left[j] > 0:
                service[i] = j
                left[j] -= 1
                break
    return service


def caseworkers_in_arrival(order: np.ndarray, logged: np.ndarray, places: np.ndarray) -> np.ndarray:
    """The logged choice while its service has places; none once it is full."""
    left = places.astype(np.int64).copy()
    service = np.full(len(logged), NO_SERVICE, dtype=np.int64)
    m = len(places)
    for i in order:
        j = int(logged[i])
        if j < m and left[j] > 0:
            service[i] = j
            left[j] -= 1
    return service


def random_in_arrival(
    order: np.ndarray, allowed: np.ndarray, places: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A uniformly random allowed service that still has places."""
    left = places.astype(np.int64).copy()
    service = np.full(len(allowed), NO_SERVICE, dtype=np.int64)
    for i in order:
        open_ = np.flatnonzero(allowed[i] & (left > 0))
        if len(open_):
            j = int(rng.choice(open_))
            service[i] = j
            left[j] -= 1
    return service


def true_gain(service: np.ndarray, uplift: np.ndarray) -> np.ndarray:
    """Each client's true uplift of the service given (0 for none)."""
    out = np.zeros(len(service))
    given = service >= 0
    out[given] = uplift[np.flatnonzero(given), service[given]]
    return out


# -- capacities --------------------------------------------------------------------------------


def cell_places(
    kind: str, monthly: np.ndarray, n: int, true_uplift: np.ndarray, allowed: np.ndarray
) -> np.ndarray:
    """The places of a capacity kind for a cohort of n (see the module docstring)."""
    places = np.maximum(np.rint(monthly * n / HELSINKI_ASSESSMENTS_PER_MONTH), 1).astype(np.int64)
    if kind == "catalog":
        return places
    keyed = np.where(allowed, true_uplift, -np.inf)
    best = np.argmax(keyed, axis=1)
    has_best = np.isfinite(keyed.max(axis=1)) & (keyed.max(axis=1) > 0)
    demand = np.bincount(best[has_best], minlength=len(monthly))
    for j in np.argsort(-demand, kind="stable")[:SCARCE_SERVICES]:
        places[j] = min(places[j], max(1, math.ceil(SCARCITY * demand[j])))
    return places


# -- one cell ----------------------------------------------------------------------------------


def judge(
    scores: FrameScores,
    frame: Any,
    true_uplift: np.ndarray,
    logged: np.ndarray,
    places: np.ndarray,
    seed: int,
) -> dict[str, Any]:
    """Every policy of the module docstring on one cohort and one set of places."""
    n = len(frame)
    order = np.argsort(frame["assessment_date"].to_numpy(dtype="datetime64[D]"), kind="stable")
    keys = np.arange(1, n + 1)
    services: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    floors: dict[str, int] = {}
    for name, options in (
        ("optimal", AllocationOptions()),
        ("optimal_allow_harm", AllocationOptions(do_no_harm=False)),
        ("optimal_lower", AllocationOptions(uncertainty="lower")),
        ("optimal_raw", AllocationOptions(uncertainty="raw")),
        ("optimal_shrunk", AllocationOptions(uncertainty="shrunk")),
        (
            "optimal_fair",
            AllocationOptions(group_by="language_group", group_floor=FAIR_FLOOR),
        ),
    ):
        try:
            result = allocate_scores(scores, frame, keys, "row_id", places, options)
        except AllocationError:  # floors that cannot all hold: the plain optimum stands
            services[name], seconds[name] = services["optimal"], math.nan
            continue
        services[name] = result.allocation.service
        seconds[name] = result.allocation.seconds
        if name == "optimal":
            floors = {
                "groups": len(result.allocation.floors),
                "positive": sum(f > 0 for f in result.allocation.floors.values()),
                "binding": len(result.allocation.binding),
            }
    # Greedy sees what the optimum sees (the same values): only the allocation differs.
    value = np.nan_to_num(pair_values(scores, DEFAULT_UNCERTAINTY), nan=-np.inf)
    services["greedy"] = greedy_in_arrival(order, value, scores.allowed, places)
    services["caseworkers"] = caseworkers_in_arrival(order, logged, places)
    services["random"] = random_in_arrival(
        order, scores.allowed, places, np.random.default_rng(seed)
    )
    oracle = solve_allocation(np.where(scores.allowed, true_uplift, np.nan), places)
    services["oracle"] = oracle.service
    seconds["oracle"] = oracle.seconds
    gains = {name: true_gain(s, true_uplift) for name, s in services.items()}
    labels = group_labels(frame)
    groups = {
        f"{grouping}={label}": {
            **{name: float(gains[name][member].mean()) for name in POLICIES},
            "clients": int(member.sum()),
            "optimal_vs_caseworkers_se": _paired_se(gains["optimal"], gains["caseworkers"], member),
        }
        for grouping, group in labels.items()
        for label in sorted(set(np.asarray(group).astype(str).tolist()))
        for member in [np.asarray(group).astype(str) == label]
    }
    rank_demand = scores.top(1)[:, 0]
    demand = np.bincount(rank_demand[rank_demand >= 0], minlength=len(places))
    # What the estimates allow at best, places aside: Polku's own top-1 against the truth's.
    own_top1 = np.where(rank_demand >= 0, rank_demand, NO_SERVICE)
    best_true = np.where(scores.allowed, true_uplift, -np.inf).max(axis=1, initial=-np.inf)
    # The programme without places: each client's best pair by the optimum's values, if
    # it is expected to help (what the optimum gives when no place is short).
    keyed = np.where(scores.allowed, value, -np.inf)
    unlimited = np.where(keyed.max(axis=1, initial=-np.inf) > 0, np.argmax(keyed, axis=1), -1)
    return {
        "unlimited": {
            "polku_top1": float(true_gain(own_top1, true_uplift).sum()),
            "optimal": float(true_gain(unlimited, true_uplift).sum()),
            "oracle_top1": float(np.maximum(best_true, 0.0).sum()),
        },
        "places": int(places.sum()),
        "binding_services": int((demand > places).sum()),
        "top1_demand_over_places": float(np.minimum(demand, places).sum() / max(demand.sum(), 1)),
        "total": {name: float(g.sum()) for name, g in gains.items()},
        "allocated": {name: int((s >= 0).sum()) for name, s in services.items()},
        "groups": groups,
        "do_no_harm_floors": floors,
        "solve_seconds": seconds,
    }


def _paired_se(a: np.ndarray, b: np.ndarray, member: np.ndarray) -> float:
    """Standard error of the mean of a - b over the members (nan for fewer than two)."""
    diff = (a - b)[member]
    return float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else math.nan


def time_cohort(model: Any, frame: Any, objective: str, places: np.ndarray, seed: int) -> dict:
    """Scoring and solving a cohort of `TIME_ROWS` (resampled) x the model's services,
    `TIME_REPEATS` times: the machine is shared, so the fastest run is the cost and the
    median what a busy machine gives."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(frame), size=TIME_ROWS, replace=len(frame) < TIME_ROWS)
    cohort = frame.iloc[rows].reset_index(drop=True)
    scale = TIME_ROWS / len(frame)
    big = np.maximum(np.rint(places * scale), 1).astype(np.int64)
    runs = []
    for _ in range(TIME_REPEATS):
        started = time.perf_counter()
        with limited_threads():
            scores = model.score_frame(cohort, objective, with_intervals=True, with_practice=True)
        scored = time.perf_counter() - started
        result = allocate_scores(
            scores, cohort, np.arange(1, TIME_ROWS + 1), "row_id", big, AllocationOptions()
        )
        runs.append((time.perf_counter() - started, scored, result.allocation.seconds))
    best = min(runs)
    return {
        "rows": TIME_ROWS,
        "services": len(model.service_ids),
        "variables": result.allocation.n_variables,
        "status": result.allocation.status,
        "score_seconds": best[1],
        "solve_seconds": best[2],
        "total_seconds": best[0],
        "median_total_seconds": statistics.median(r[0] for r in runs),
        # The machine is shared: the 1-minute load average says how busy it was.
        "load_average": os.getloadavg()[0],
    }


def run_cell(
    scenario: str, n_clients: int, seed: int, directory: Path, progress: Progress
) -> dict[str, Any]:
    world_dir = directory / f"world-{scenario}-{n_clients}-{seed}"
    generated = draw_world(scenario, n_clients, seed)
    write_world(generated, world_dir)
    catalog = generated.catalog
    del generated
    world = load_world(world_dir, catalog=catalog)
    settings = TrainSettings(seed=seed)
    trained = fit_model(world, settings, lambda line: progress(f"    {line}"), catalog=catalog)
    shutil.rmtree(world_dir, ignore_errors=True)
    model, held_out = trained.model, trained.prepared.held_out
    truth = held_out.true_outcomes
    assert truth is not None
    m_catalog = len(catalog)
    columns = np.array([catalog.index(s) for s in model.service_ids], dtype=np.int64)
    true_uplift = (truth[:, :m_catalog] - truth[:, m_catalog:])[:, columns]
    logged_catalog = np.asarray(held_out.logged_action, dtype=np.int64)
    position = {int(c): k for k, c in enumerate(columns)}
    logged = np.array([position.get(int(a), len(columns)) for a in logged_catalog])
    frame = held_out.frame.reset_index(drop=True)
    with limited_threads():
        scores = model.score_frame(
            frame, settings.objective, with_intervals=True, with_practice=True
        )
    monthly = np.array([catalog.get(s).monthly_capacity for s in model.service_ids], dtype=float)
    cell: dict[str, Any] = {
        "scenario": scenario,
        "n_clients": n_clients,
        "seed": seed,
        "cohort": len(frame),
        "services": len(model.service_ids),
        "objective": settings.objective,
        "capacities": {},
    }
    for kind in CAPACITIES:
        places = cell_places(kind, monthly, len(frame), true_uplift, scores.allowed)
        judged = judge(scores, frame, true_uplift, logged, places, seed)
        cell["capacities"][kind] = judged
        t = judged["total"]
        progress(
            f"    {kind}: optimal {t['optimal']:.1f} / oracle {t['oracle']:.1f} "
            f"({_pct(t['optimal'] / t['oracle'])} %), greedy {t['greedy']:.1f}, caseworkers "
            f"{t['caseworkers']:.1f}, random {t['random']:.1f}; {judged['binding_services']} "
            "services bind"
        )
    places = cell_places("catalog", monthly, len(frame), true_uplift, scores.allowed)
    cell["timing"] = time_cohort(model, frame, settings.objective, places, seed)
    timing = cell["timing"]
    progress(
        f"    {TIME_ROWS:,} x {timing['services']}: solve {timing['solve_seconds']:.2f} s, "
        f"with scoring {timing['total_seconds']:.2f} s"
    )
    return cell


# -- results and report ------------------------------------------------------------------------


def _key(cell: dict[str, Any]) -> tuple[str, int, int]:
    # Cells measured before scenarios were named are of the baseline world.
    return (_scenario(cell), int(cell["n_clients"]), int(cell["seed"]))


def _scenario(cell: dict[str, Any]) -> str:
    return str(cell.get("scenario", BASELINE))


def load_cells(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["cells"]) if path.exists() else []


def save_cells(path: Path, cells: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"cells": cells}, indent=1) + "\n")
    temporary.replace(path)


def merge_cells(old: list[dict], new: list[dict]) -> list[dict]:
    merged = {_key(c): c for c in old}
    merged.update({_key(c): c for c in new})
    return [merged[k] for k in sorted(merged)]


def _shown_path(path: Path) -> str:
    """The results file as the project names it (relative to the root when inside it)."""
    root = Path(__file__).resolve().parent.parent
    resolved = path.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def _spread(values: Sequence[float], signed: bool = False) -> str:
    if len(values) == 1:
        return _pct(values[0], signed)
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{_pct(mid, signed)} [{_pct(low, signed)}, {_pct(high, signed)}]"


def render(cells: list[dict[str, Any]], commands: Sequence[str], results: Path) -> str:
    scenarios = sorted({_scenario(c) for c in cells})
    if len(scenarios) != 1:  # the tables pool seeds of one world
        raise ValueError(f"one world a results file, found {', '.join(scenarios)}")
    scenario = scenarios[0]
    by_size: dict[int, list[dict]] = {}
    for cell in sorted(cells, key=_key):
        by_size.setdefault(cell["n_clients"], []).append(cell)
    lines = [
        f"Each cell: a{'n' if scenario[0] in 'aeiou' else ''} `{scenario}` world of the size "
        "(the seed's draw), Polku trained as "
        "`polku train` does on 75 % of the clients, and the held-out assessments allocated as "
        "one cohort arriving in date order; every policy is scored by the **true** total "
        "gain (sum of the true uplifts of the services it gave, objective "
        f"`{cells[0]['objective']}`). Capacities: `catalog` = monthly capacity scaled to the "
        "cohort as the generator's caseworkers see it; `scarce` = the same with the "
        f"{SCARCE_SERVICES} services most often a client's true best cut to "
        f"{100 * SCARCITY:.0f} % of that demand (a bench override). Policies: `optimal` = "
        "`polku allocate` with its defaults (the `ranked` reading: the pairs the shown uplift "
        "says help, valued by the model's own uplift); `shrunk` = on the shown estimates (the "
        "default before); `raw` = on the model's own uplift alone; `lower` = on the shown "
        "estimates' 25 % quantile; "
        f"`fair` = with every language group >= {100 * FAIR_FLOOR:.0f} % of the mean expected "
        "gain; `greedy` = each client's best service (same values) with places, in arrival "
        "order; "
        "`caseworkers` = the logged choice while places last; `random` = a random allowed "
        "service with places; `oracle` = the same programme on the true uplifts, over the "
        "pairs Polku may offer. `optimal` keeps `polku allocate`'s default do-no-harm floors "
        "(every group at least what today's practice gives it by the estimates, less a "
        "one-sided 95 % slack); `allow harm` = the same without them. "
        f"BLAS threads: {numeric_threads()}. All cells: "
        f"`{_shown_path(results)}`.",
        "",
        "Commands:",
        "",
        *(f"- `{c}`" for c in commands),
        "",
        "**Share of the capacity-constrained oracle's true gain** (%, median [min, max] over "
        "seeds):",
        "",
        "| clients | capacity | cohort | services binding | optimal | allow harm | lower | raw | "
        "shrunk | fair | greedy | caseworkers | random | optimal / greedy | without places: "
        "Polku top-1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, group in by_size.items():
        for kind in CAPACITIES:
            runs = [c["capacities"][kind] for c in group]

            def share(name: str, runs: list[dict] = runs) -> str:
                return _spread([r["total"][name] / r["total"]["oracle"] for r in runs])

            ratio = [r["total"]["optimal"] / r["total"]["greedy"] for r in runs]
            ceiling = _spread(
                [r["unlimited"]["polku_top1"] / r["unlimited"]["oracle_top1"] for r in runs]
            )
            lines.append(
                f"| {size:,} | {kind} | {statistics.median(c['cohort'] for c in group):,.0f} | "
                f"{statistics.median(r['binding_services'] for r in runs):.0f} of "
                f"{group[0]['services']} | {share('optimal')} | {share('optimal_allow_harm')} | "
                f"{share('optimal_lower')} | {share('optimal_raw')} | "
                f"{share('optimal_shrunk')} | {share('optimal_fair')} | {share('greedy')} | "
                f"{share('caseworkers')} | "
                f"{share('random')} | {statistics.median(ratio):.2f} | {ceiling} |"
            )
    lines += ["", *render_gap(by_size), "", *render_groups(by_size), "", *render_floors(by_size)]
    lines += ["", *render_times(by_size), "", *render_goals(cells)]
    return "\n".join(lines)


def render_gap(by_size: dict[int, list[dict]]) -> list[str]:
    """Where the gap to the oracle comes from: the estimates, or the programme under places."""
    lines = [
        "**Where the gap comes from** (%, median [min, max] over seeds). (a) the optimum's "
        "share of the oracle, both with places. Without places, as shares of the "
        "unconstrained oracle (every client's true best among the pairs Polku may offer, if "
        "it helps): (b) Polku's own top-1 for every client (its list's order); (b') the "
        "programme without places (each client's best pair by the optimum's values, if it is "
        "expected to help). (b) and (b') are what the estimates allow; (a) - (b) and "
        "(a) - (b') (points, per seed) what the programme loses (below 0) or gains under the "
        "places beside that; (d) the oracle with places as a share of the unconstrained one: "
        "what the places cost on the truth.",
        "",
        "| clients | capacity | (a) optimal / oracle | (b) Polku top-1, no places | "
        "(b') programme, no places | (a) - (b), points | (a) - (b'), points | "
        "(d) oracle with / without places |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, group in by_size.items():
        for kind in CAPACITIES:
            runs = [c["capacities"][kind] for c in group]
            best = [r["unlimited"]["oracle_top1"] for r in runs]
            a = [r["total"]["optimal"] / r["total"]["oracle"] for r in runs]
            b = [r["unlimited"]["polku_top1"] / o for r, o in zip(runs, best, strict=True)]
            b2 = [r["unlimited"]["optimal"] / o for r, o in zip(runs, best, strict=True)]
            d = [r["total"]["oracle"] / o for r, o in zip(runs, best, strict=True)]
            lines.append(
                f"| {size:,} | {kind} | {_spread(a)} | {_spread(b)} | {_spread(b2)} | "
                f"{_spread([x - y for x, y in zip(a, b, strict=True)], signed=True)} | "
                f"{_spread([x - y for x, y in zip(a, b2, strict=True)], signed=True)} | "
                f"{_spread(d)} |"
            )
    return lines


def render_floors(by_size: dict[int, list[dict]]) -> list[str]:
    """How many do-no-harm floors were above 0, and how many held the optimum back."""
    lines = [
        "**Do-no-harm floors** (of `optimal`, summed over seeds): groups floored, floors above "
        "0 (practice's estimated gain above its slack), floors met with equality (binding).",
        "",
        "| clients | capacity | groups | above 0 | binding |",
        "|---|---|---|---|---|",
    ]
    for size, group in by_size.items():
        for kind in CAPACITIES:
            f = [c["capacities"][kind].get("do_no_harm_floors", {}) for c in group]
            lines.append(
                f"| {size:,} | {kind} | {sum(x.get('groups', 0) for x in f)} | "
                f"{sum(x.get('positive', 0) for x in f)} | {sum(x.get('binding', 0) for x in f)} |"
            )
    return lines


def render_groups(by_size: dict[int, list[dict]]) -> list[str]:
    lines = [
        "**By group** (worst group of each policy against the caseworkers: the lowest margin "
        "of the group's mean true gain per client over the caseworkers' in that group, over "
        "seeds and groups (age band, language group, gender, long-term unemployment)):",
        "",
        "| clients | capacity | optimal | allow harm | lower | raw | shrunk | fair | greedy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, group in by_size.items():
        for kind in CAPACITIES:
            row = [f"{size:,}", kind]
            for name in (
                "optimal",
                "optimal_allow_harm",
                "optimal_lower",
                "optimal_raw",
                "optimal_shrunk",
                "optimal_fair",
                "greedy",
            ):
                worst, where = min(
                    (g[name] - g["caseworkers"], f"{label}, seed {c['seed']}")
                    for c in group
                    for label, g in c["capacities"][kind]["groups"].items()
                )
                row.append(f"{worst:+.4f} ({where})" + (" **below**" if worst < 0 else ""))
            lines.append("| " + " | ".join(row) + " |")
    return [*lines, "", *render_every_group(by_size)]


def render_every_group(by_size: dict[int, list[dict]]) -> list[str]:
    """Every group's margin over the caseworkers, in units of its standard error too."""
    cells = [(size, kind, group) for size, group in by_size.items() for kind in CAPACITIES]
    names = sorted({g for _, _, group in cells for c in group for g in _groups(c, CAPACITIES[0])})
    lines = [
        "**Every group against the caseworkers** (`optimal`: the lowest over seeds of the "
        "group's mean true gain per client minus the caseworkers', its z = margin / paired "
        "standard error, the seed and the group's median size in the cohort; `allow harm` "
        "after the semicolon, the same seed's margin):",
        "",
        "| group | " + " | ".join(f"{size:,} {kind}" for size, kind, _ in cells) + " |",
        "|---|" + "---|" * len(cells),
    ]
    for name in names:
        row = [name]
        for _, kind, group in cells:
            found = [(c["seed"], _groups(c, kind)[name]) for c in group if name in _groups(c, kind)]
            if not found:
                row.append("")
                continue
            seed, g = min(found, key=lambda x: x[1]["optimal"] - x[1]["caseworkers"])
            margin = g["optimal"] - g["caseworkers"]
            z = (
                margin / g["optimal_vs_caseworkers_se"]
                if g.get("optimal_vs_caseworkers_se")
                else math.nan
            )
            before = g.get("optimal_allow_harm", math.nan) - g["caseworkers"]
            size = statistics.median(x[1].get("clients", 0) for x in found)
            row.append(
                f"{margin:+.4f} (z {z:+.1f}, seed {seed}, {size:,.0f} clients); {before:+.4f}"
            )
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _groups(cell: dict[str, Any], kind: str) -> dict[str, dict[str, float]]:
    return dict(cell["capacities"][kind]["groups"])


def render_times(by_size: dict[int, list[dict]]) -> list[str]:
    lines = [
        f"**Time** (seconds, median over seeds): solving the held-out cohort, and scoring + "
        f"solving a cohort of {TIME_ROWS:,} assessments (resampled) x the model's services, "
        f"the fastest of {TIME_REPEATS} runs (the machine is shared; the median run in "
        "brackets after the slowest seed's fastest):",
        "",
        "| clients | cohort solve (optimal) | oracle solve | 10,000: pairs | 10,000: score | "
        "10,000: solve | 10,000: total (slowest seed; median run) | load average |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, group in by_size.items():
        runs = [c["capacities"]["scarce"]["solve_seconds"] for c in group]
        t = [c["timing"] for c in group]
        lines.append(
            f"| {size:,} | {statistics.median(r['optimal'] for r in runs):.2f} | "
            f"{statistics.median(r['oracle'] for r in runs):.2f} | "
            f"{statistics.median(x['variables'] for x in t):,.0f} of "
            f"{TIME_ROWS:,} x {t[0]['services']} | "
            f"{statistics.median(x['score_seconds'] for x in t):.2f} | "
            f"{statistics.median(x['solve_seconds'] for x in t):.2f} | "
            f"{statistics.median(x['total_seconds'] for x in t):.2f} "
            f"({max(x['total_seconds'] for x in t):.2f}; "
            f"{statistics.median(x.get('median_total_seconds', math.nan) for x in t):.2f}) | "
            f"{statistics.median(x.get('load_average', math.nan) for x in t):.1f} |"
        )
    return lines


def render_goals(cells: list[dict]) -> list[str]:
    captures = [
        c["capacities"][k]["total"]["optimal"] / c["capacities"][k]["total"]["oracle"]
        for c in cells
        for k in CAPACITIES
    ]
    margins = [
        c["capacities"][k]["total"]["optimal"] / c["capacities"][k]["total"]["greedy"] - 1
        for c in cells
        for k in CAPACITIES
        if c["capacities"][k]["binding_services"] > 0
    ]
    below = [
        f"{label} ({k}, {c['n_clients']:,}, seed {c['seed']})"
        for c in cells
        for k in CAPACITIES
        for label, g in c["capacities"][k]["groups"].items()
        if g["optimal"] < g["caseworkers"]
    ]
    clearly_below = [
        f"{label} ({k}, {c['n_clients']:,}, seed {c['seed']})"
        for c in cells
        for k in CAPACITIES
        for label, g in c["capacities"][k]["groups"].items()
        if g["optimal"] - g["caseworkers"]
        < -DO_NO_HARM_Z * g.get("optimal_vs_caseworkers_se", math.inf)
    ]
    totals = [c["timing"]["total_seconds"] for c in cells]
    slowest, typical = max(totals), statistics.median(totals)
    return [
        "**Goals of issue 15**:",
        "",
        f"- optimal >= {100 * CAPTURE_GOAL:.0f} % of the oracle in every cell: lowest "
        f"{_pct(min(captures))} %: "
        + ("met." if min(captures) >= CAPTURE_GOAL else "**not met**."),
        f"- optimal beats greedy where capacity binds: smallest margin {100 * min(margins):+.1f} % "
        f"over {len(margins)} cells.",
        "- no group's gain below the caseworkers' (optimal): "
        + ("met." if not below else "**not met** in " + "; ".join(below[:8]) + ".")
        + " Below by more than 1.645 standard errors (one-sided 95 %): "
        + ("none." if not clearly_below else "; ".join(clearly_below[:8]) + "."),
        f"- {TIME_ROWS:,} x services scored and solved: median {typical:.2f} s, slowest "
        f"{slowest:.2f} s (goal < {TIME_GOAL_SECONDS:.0f} s): "
        + (
            "met."
            if slowest < TIME_GOAL_SECONDS
            else "met by the median; the slowest ran on a loaded machine (load average in "
            "the time table)."
            if typical < TIME_GOAL_SECONDS
            else "**not met**."
        ),
    ]


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--scenario",
        default=BASELINE,
        choices=(*scenario_names(), ALIEN),
        help="the world: a scenario of the family, or alien",
    )
    parser.add_argument(
        "--results", type=Path, help="default bench/results/allocation[_SCENARIO].json"
    )
    parser.add_argument("--section", help="BENCHMARKS.md section; default allocation[_SCENARIO]")
    parser.add_argument("--no-write", action="store_true", help="print only; touch no file")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args(argv)
    # One world a results file and a section: the tables pool the seeds of one world.
    suffix = "" if args.scenario == BASELINE else f"_{args.scenario}"
    args.results = args.results or RESULTS_JSON.with_name(f"allocation{suffix}.json")
    args.section = args.section or f"allocation{suffix}"
    if args.render_only:
        cells = load_cells(args.results)
        commands = list(dict.fromkeys(c["command"] for c in cells))
        write_section(args.section, commands[-1], render(cells, commands, args.results))
        return
    command = "nice -n 10 .venv/bin/python bench/bench_allocation.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    old = [] if args.no_write else load_cells(args.results)
    new: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="polku-bench-allocation-") as tmp:
        for size in _ints(args.sizes):
            for seed in _ints(args.seeds):
                print(f"{args.scenario}: {size:,} clients, seed {seed}", flush=True)
                cell = run_cell(
                    args.scenario, size, seed, Path(tmp), lambda s: print(s, flush=True)
                )
                cell["command"] = command.strip()
                new.append(cell)
                if not args.no_write:
                    save_cells(args.results, merge_cells(old, new))
    cells = merge_cells(old, new)
    commands = list(dict.fromkeys(c["command"] for c in cells))
    body = render(cells, commands, args.results)
    print(body)
    if not args.no_write:
        write_section(args.section, commands[-1], body)


if __name__ == "__main__":
    main()
