"""Benchmark: Polku's ranking quality against practice and the causal-ML peers, over a grid.

For each cell of scenario x size x seed: generate a world (`pipeline.synth.world`, with the
scenario's structure), do what `polku train` does before MLflow (`fit_model`: load, gate,
split by client, fit, evaluate on held-out clients against the baselines and the oracle),
then fit each peer (`bench/peers.py`) on the same training episodes, features, allowed
services and objective, and score its top-1 on the same held-out clients exactly as Polku's
is scored: policy value = mean true outcome under the choice; oracle gain captured =
(value - caseworkers) / (oracle - caseworkers). Polku's top-1 honesty (`top1_honesty`) is
read from what the model serves.

Every cell goes to `bench/results/ranking_quality.json` (cells of earlier runs are kept,
a rerun of the same cell replaces it); the BENCHMARKS.md section is rendered from all of
them, with the commands that produced them.

Run: `nice -n 10 .venv/bin/python bench/bench_ranking_quality.py --scenarios baseline
--sizes 10000,30000 --seeds 0,1,2 --peers all` (the peers need `pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from benchmarks_md import write_section
from peers import PEERS, Peer, PeerData
from top1_honesty import top1_honesty
from worlds import ALIEN, draw_world, scenario_names

from models.catalog import Catalog
from models.features import FeatureEncoder
from models.groupings import group_labels
from pipeline.data.episodes import PreparedEpisodes, objective_rewards
from pipeline.data.world import load_world
from pipeline.evaluation import metrics
from pipeline.evaluation.policies import best_allowed
from pipeline.synth.world import write_world
from pipeline.threads import limited_threads, numeric_threads
from pipeline.training.settings import TrainSettings
from pipeline.training.train import TrainedModel, fit_model

RESULTS_JSON: Final = Path(__file__).resolve().parent / "results" / "ranking_quality.json"
PRACTICE: Final = ("imitation", "popular", "random")
# The goals (issue 12): median gain over the scenario family per size.
GAIN_GOALS: Final = {30_000: 0.70, 100_000: 0.80}
HONESTY_RATIO_BAND: Final = 0.25
COVERAGE_GOAL: Final = 0.87
TRAIN_GOAL_SECONDS: Final = 120.0

Progress = Callable[[str], None]


# -- one cell ----------------------------------------------------------------------------------


def peer_data(prepared: PreparedEpisodes, objective: str, seed: int) -> PeerData:
    """Polku's training episodes and held-out clients, as the peers see them."""
    train, held_out = prepared.train, prepared.held_out
    encoder = FeatureEncoder().fit(train.frame)
    return PeerData(
        x_train=encoder.transform(train.frame),
        action_train=np.asarray(train.action, dtype=np.int64),
        reward_train=objective_rewards(train.outcomes, objective),
        allowed_train=np.asarray(train.allowed, dtype=bool),
        x_test=encoder.transform(held_out.frame),
        allowed_test=np.asarray(held_out.allowed, dtype=bool),
        seed=seed,
    )


def worst_group_margin(
    per_episode: np.ndarray, caseworkers: np.ndarray, labels: dict[str, np.ndarray]
) -> tuple[float, str]:
    """The group (of the evaluation's audit slices) where a policy is furthest below the
    caseworkers: (its mean margin, "grouping=label")."""
    worst, where = math.inf, ""
    for grouping, group in labels.items():
        text = np.asarray([str(label) for label in group], dtype=object)
        for label in sorted(set(text.tolist())):
            mask = text == label
            margin = float(np.mean(per_episode[mask] - caseworkers[mask]))
            if margin < worst:
                worst, where = margin, f"{grouping}={label}"
    return worst, where


def score_choice(
    choice: np.ndarray,
    truth: np.ndarray,
    values: dict[str, float],
    caseworkers: np.ndarray,
    labels: dict[str, np.ndarray],
) -> dict[str, Any]:
    """A top-1 policy judged against the truth, as the evaluation judges Polku's."""
    per_episode = metrics.chosen_outcomes(truth, choice)
    value = metrics.policy_value(truth, choice)
    gain = metrics.oracle_gain_captured(value, values["caseworkers"], values["oracle"])
    worst, where = worst_group_margin(per_episode, caseworkers, labels)
    return {
        "value": value,
        "gain": gain if math.isfinite(gain) else None,
        "worst_group_margin": worst,
        "worst_group": where,
    }


def run_peer(
    peer: Peer,
    data: PeerData,
    truth: np.ndarray,
    values: dict[str, float],
    caseworkers: np.ndarray,
    labels: dict[str, np.ndarray],
) -> dict[str, Any]:
    started = time.perf_counter()
    with limited_threads():
        uplift = peer.uplift(data)
    seconds = time.perf_counter() - started
    choice = best_allowed(uplift, data.allowed_test)
    scored = score_choice(choice, truth, values, caseworkers, labels)
    return {
        **scored,
        "seconds": seconds,
        "max_rows": peer.max_rows,
        "train_rows": min(len(data.action_train), peer.max_rows or len(data.action_train)),
        "services_scored": int(np.isfinite(uplift).any(axis=0).sum()),
    }


@dataclass(frozen=True)
class FittedCell:
    """One cell's world fitted as `polku train` fits it (before MLflow)."""

    trained: TrainedModel
    catalog: Catalog
    settings: TrainSettings
    generate_seconds: float
    load_seconds: float


def fit_cell(
    scenario: str, n_clients: int, seed: int, directory: Path, progress: Progress
) -> FittedCell:
    """Generate a cell's world, write and read it as a register, and fit Polku on it."""
    world_dir = directory / f"{scenario}-{n_clients}-{seed}"
    started = time.perf_counter()
    generated = draw_world(scenario, n_clients, seed)
    write_world(generated, world_dir)
    generate_seconds = time.perf_counter() - started
    # A scenario may draw its world with a catalog of its own (services split into variants):
    # the register is read, and Polku and the peers ranked, against that catalog.
    catalog = generated.catalog
    del generated
    started = time.perf_counter()
    world = load_world(world_dir, catalog=catalog)
    load_seconds = time.perf_counter() - started
    settings = TrainSettings(seed=seed)
    trained = fit_model(world, settings, lambda line: progress(f"    {line}"), catalog=catalog)
    shutil.rmtree(world_dir, ignore_errors=True)
    return FittedCell(trained, catalog, settings, generate_seconds, load_seconds)


def run_cell(
    scenario: str,
    n_clients: int,
    seed: int,
    peers: Sequence[Peer],
    directory: Path,
    progress: Progress,
) -> dict[str, Any]:
    """Generate, fit Polku and the peers, and judge them on one world."""
    fitted = fit_cell(scenario, n_clients, seed, directory, progress)
    trained, catalog, settings = fitted.trained, fitted.catalog, fitted.settings
    generate_seconds, load_seconds = fitted.generate_seconds, fitted.load_seconds
    summary = trained.evaluation.summary
    prepared = trained.prepared
    held_out = prepared.held_out
    truth = held_out.true_outcomes
    assert truth is not None, "a generated world has a truth"
    values = dict(summary.policy_value.items())
    gains = {
        name: metrics.oracle_gain_captured(values[name], values["caseworkers"], values["oracle"])
        for name in values
    }
    labels = group_labels(held_out.frame)
    caseworkers = metrics.chosen_outcomes(truth, held_out.logged_action)
    polku_groups = [
        (entry.policy_value.polku - entry.policy_value.caseworkers, f"{grouping}={label}")
        for grouping, table in summary.by_group.items()
        for label, entry in table.items()
    ]
    worst_margin, worst_group = min(polku_groups)
    honesty = top1_honesty(trained.model, held_out.frame, truth, catalog.ids, settings.objective)
    cell: dict[str, Any] = {
        "scenario": scenario,
        "n_clients": n_clients,
        "seed": seed,
        "n_services": len(catalog),
        "episodes": prepared.counts["episodes"],
        "train_episodes": prepared.counts["train_episodes"],
        "held_out_episodes": prepared.counts["held_out_episodes"],
        "values": values,
        "gains": {k: (v if math.isfinite(v) else None) for k, v in gains.items()},
        "polku_worst_group_margin": worst_margin,
        "polku_worst_group": worst_group,
        "honesty": honesty,
        "seconds": {
            "generate": generate_seconds,
            "load": load_seconds,
            "prepare": trained.timings["prepare_seconds"],
            "fit": trained.timings["fit_seconds"],
            "train": load_seconds
            + trained.timings["prepare_seconds"]
            + trained.timings["fit_seconds"],
            "evaluate": trained.timings["evaluate_seconds"],
        },
        "peers": {},
    }
    progress(
        f"    Polku gain {_pct(cell['gains']['polku'])}, imitation "
        f"{_pct(cell['gains']['imitation'])}; top-1 predicted {honesty['top1_mean_predicted']:+.4f}"
        f" vs true {honesty['top1_mean_true']:+.4f}, top-1 coverage "
        f"{_pct(honesty['top1_coverage'])}"
    )
    if peers:
        data = peer_data(prepared, settings.objective, seed)
        for peer in peers:
            result = run_peer(peer, data, truth, values, caseworkers, labels)
            cell["peers"][peer.name] = result
            progress(
                f"    {peer.name}: gain {_pct(result['gain'])} in {result['seconds']:.1f} s "
                f"on {result['train_rows']:,} training episodes"
            )
    return cell


# -- results file ------------------------------------------------------------------------------


def _key(cell: dict[str, Any]) -> tuple[str, int, int]:
    return (str(cell["scenario"]), int(cell["n_clients"]), int(cell["seed"]))


def load_cells(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return list(json.loads(path.read_text())["cells"])


def merge_cells(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]) -> list[dict]:
    """Old cells with the new ones in place of any with the same scenario, size and seed."""
    merged = {_key(cell): cell for cell in old}
    merged.update({_key(cell): cell for cell in new})
    return [merged[key] for key in sorted(merged)]


def save_cells(path: Path, cells: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"cells": cells}, indent=1, default=_json_default) + "\n")
    temporary.replace(path)


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value)}")


# -- report ------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.1f}"


def _spread(values: Sequence[float | None]) -> str:
    """`median [min, max]` in percent over seeds; one seed shows alone."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return "n/a"
    if len(finite) == 1:
        return _pct(finite[0])
    return f"{_pct(statistics.median(finite))} [{_pct(min(finite))}, {_pct(max(finite))}]"


def _median(values: Iterable[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if finite else None


def _groups(cells: list[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    # The registry's order, baseline first.
    order = {name: i for i, name in enumerate(scenario_names())}

    def place(cell: dict[str, Any]) -> tuple[int, str, int, int]:
        scenario, size, seed = _key(cell)
        return (order.get(scenario, len(order)), scenario, size, seed)

    out: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for cell in sorted(cells, key=place):
        out.setdefault((cell["scenario"], cell["n_clients"]), []).append(cell)
    return out


def render(cells: list[dict[str, Any]], commands: Sequence[str]) -> str:
    """The BENCHMARKS.md section, from every cell of the results file."""
    groups = _groups(cells)
    peer_names = [name for name in PEERS if any(name in c["peers"] for c in cells)]
    peer_labels = {name: PEERS[name].label for name in peer_names}
    lines = [
        "Each cell: a world of the scenario and size (`pipeline.synth`, the seed's draw), "
        "Polku trained as `polku train` does on 75 % of the clients (split by a hash of the "
        "client id) and every policy judged on the other 25 % against the synthetic truth. "
        "The peers (`bench/peers.py`) are fitted on Polku's training episodes, with the "
        "features of `models.features.FeatureEncoder`, the catalog's allowed services and the "
        "same objective; each policy's top-1 among the allowed services is scored alike. "
        "The EconML and CausalML learners are fitted one service against no service at a "
        "time, on the episodes allowed the service that got it or got none. "
        f"BLAS/OpenMP threads: {numeric_threads()}; LightGBM 1 thread. All cells: "
        "`bench/results/ranking_quality.json`.",
        "",
        "Commands:",
        "",
        *(f"- `{command}`" for command in commands),
        "",
        "Peers: "
        + "; ".join(f"`{name}` = {peer_labels[name]}" for name in peer_names)
        + ". (sub.) = that peer was fitted on a seeded subsample of the training episodes "
        "(sizes in the time table), to finish on this shared two-core machine.",
        "",
        "**Oracle gain captured** (% of the oracle's gain over the caseworkers; median "
        "[min, max] over seeds; the caseworkers are 0 by definition):",
        "",
        "| scenario | clients | seeds | Polku | imitation | popular | random |"
        + "".join(f" `{name}` |" for name in peer_names),
        "|---|---|---|---|---|---|---|" + "---|" * len(peer_names),
    ]
    for (scenario, size), group in groups.items():
        row = [scenario, f"{size:,}", ", ".join(str(c["seed"]) for c in group)]
        row += [_spread([c["gains"][name] for c in group]) for name in ("polku", *PRACTICE)]
        for name in peer_names:
            subsampled = {c["peers"][name]["max_rows"] for c in group if name in c["peers"]}
            text = _spread([c["peers"][name]["gain"] for c in group if name in c["peers"]])
            if subsampled - {None}:
                text += " (sub.)"
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", *render_flags(groups, peer_names), "", *render_honesty(groups)]
    lines += ["", *render_times(groups, peer_names), "", *render_goals(groups)]
    return "\n".join(lines)


def render_flags(groups: dict[tuple[str, int], list[dict]], peer_names: list[str]) -> list[str]:
    """Where Polku falls below practice or a peer, cell by cell."""
    lines = [
        "**Do no harm**, per scenario x size: seeds where Polku's policy value is below the "
        "imitation model's or the caseworkers'; the worst group (age band, language group, "
        "gender, long-term unemployment) margin of Polku over the caseworkers; seeds where a "
        "peer beats Polku.",
        "",
        "| scenario | clients | below imitation | below caseworkers | worst group vs "
        "caseworkers | a peer ahead |",
        "|---|---|---|---|---|---|",
    ]
    flagged = []
    for (scenario, size), group in groups.items():
        below_imitation = [c for c in group if c["values"]["polku"] < c["values"]["imitation"]]
        below_caseworkers = [c for c in group if c["values"]["polku"] < c["values"]["caseworkers"]]
        worst = min(group, key=lambda c: c["polku_worst_group_margin"])
        ahead = [
            f"{name} (seed {c['seed']})"
            for c in group
            for name in peer_names
            if name in c["peers"] and c["peers"][name]["value"] > c["values"]["polku"]
        ]
        margin = worst["polku_worst_group_margin"]
        lines.append(
            f"| {scenario} | {size:,} | "
            + _seeds(below_imitation, "imitation")
            + " | "
            + _seeds(below_caseworkers, "caseworkers")
            + f" | {margin:+.4f} ({worst['polku_worst_group']}, seed {worst['seed']})"
            + (" **below**" if margin < 0 else "")
            + " | "
            + (", ".join(ahead) if ahead else "none")
            + " |"
        )
        if below_imitation or below_caseworkers or margin < 0:
            flagged.append(f"{scenario} at {size:,}")
    lines += [
        "",
        "Flagged (Polku below imitation or caseworkers in a seed, or a group below the "
        "caseworkers): " + (", ".join(flagged) if flagged else "none") + ".",
    ]
    return lines


def _seeds(cells: list[dict], baseline: str) -> str:
    if not cells:
        return "none"
    return (
        "**"
        + ", ".join(
            f"seed {c['seed']} ({c['values']['polku'] - c['values'][baseline]:+.4f})" for c in cells
        )
        + "**"
    )


def render_honesty(groups: dict[tuple[str, int], list[dict]]) -> list[str]:
    lines = [
        "**Top-1 honesty** (what the model serves, `PolkuModel.score_frame` with intervals, "
        "on held-out clients; medians over seeds): mean predicted uplift of each client's "
        "top suggestion against its mean true uplift, and how often the nominal 90 % interval "
        "holds the true uplift. Goals: ratio within 1 +- "
        f"{HONESTY_RATIO_BAND:.2f}, coverage >= {100 * COVERAGE_GOAL:.0f} % for top-1 and for "
        "all pairs.",
        "",
        "| scenario | clients | top-1 predicted | top-1 true | ratio | top-1 coverage | "
        "all-pairs coverage | top-1 intervals including 0 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (scenario, size), group in groups.items():
        h = [c["honesty"] for c in group]
        ratio = _median(x["top1_ratio"] for x in h)
        lines.append(
            f"| {scenario} | {size:,} | {_median(x['top1_mean_predicted'] for x in h):+.4f} | "
            f"{_median(x['top1_mean_true'] for x in h):+.4f} | "
            + ("n/a" if ratio is None else f"{ratio:.2f}")
            + f" | {_pct(_median(x['top1_coverage'] for x in h))} % | "
            f"{_pct(_median(x['pairs_coverage'] for x in h))} % | "
            f"{_pct(_median(x['top1_includes_zero'] for x in h))} % |"
        )
    return lines


def render_times(groups: dict[tuple[str, int], list[dict]], peer_names: list[str]) -> list[str]:
    lines = [
        "**Time** (seconds, median over seeds; Polku: load + gate + split + fit with its "
        "intervals, as `polku train` before evaluation; each peer: fit and predict; "
        "training episodes in brackets where a peer was subsampled):",
        "",
        "| scenario | clients | train episodes | Polku |" + "".join(f" {n} |" for n in peer_names),
        "|---|---|---|---|" + "---|" * len(peer_names),
    ]
    for (scenario, size), group in groups.items():
        row = [
            scenario,
            f"{size:,}",
            f"{_median(c['train_episodes'] for c in group):,.0f}",
            f"{_median(c['seconds']['train'] for c in group):.1f}",
        ]
        for name in peer_names:
            runs = [c["peers"][name] for c in group if name in c["peers"]]
            if not runs:
                row.append("-")
                continue
            text = f"{_median(r['seconds'] for r in runs):.1f}"
            if any(r["max_rows"] for r in runs):
                text += f" [{_median(r['train_rows'] for r in runs):,.0f}]"
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    return lines


def render_goals(groups: dict[tuple[str, int], list[dict]]) -> list[str]:
    lines = ["**Goals of issue 12**:", ""]
    for size, goal in GAIN_GOALS.items():
        medians = [
            m
            for (name, n), group in groups.items()
            if n == size
            and name != ALIEN
            and (m := _median(c["gains"]["polku"] for c in group)) is not None
        ]
        if not medians:
            lines.append(f"- median gain at {size:,} clients >= {100 * goal:.0f} %: not measured.")
            continue
        family = statistics.median(medians)
        lines.append(
            f"- median gain over the scenario family at {size:,} clients "
            f"({len(medians)} scenario(s)): {_pct(family)} %, goal >= {100 * goal:.0f} %: "
            + ("met." if family >= goal else "**not met**.")
        )
    biggest = max((n for _, n in groups), default=0)
    big = [c for (_, n), g in groups.items() if n == biggest for c in g]
    if big:
        slowest = max(big, key=lambda c: c["seconds"]["train"])
        # Cells run at different times on a shared machine: the median says more than the max.
        lines.append(
            f"- training at {biggest:,} clients: median "
            f"{statistics.median(c['seconds']['train'] for c in big):.1f} s over {len(big)} "
            f"cells, slowest {slowest['seconds']['train']:.1f} s ({slowest['scenario']} seed "
            f"{slowest['seed']}) (goal <= {TRAIN_GOAL_SECONDS:.0f} s at 100,000)."
        )
    return lines


# -- command line ------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_peers(text: str, max_rows: str) -> list[Peer]:
    """`--peers all|none|name,name` with `--peer-max-rows name=rows,...`."""
    names = list(PEERS) if text == "all" else [] if text == "none" else text.split(",")
    unknown = [name for name in names if name not in PEERS]
    if unknown:
        raise SystemExit(f"unknown peers {unknown}; known: {', '.join(PEERS)}")
    caps = dict(part.split("=") for part in max_rows.split(",") if part.strip())
    unknown = [name for name in caps if name not in PEERS]
    if unknown:
        raise SystemExit(f"--peer-max-rows names unknown peers {unknown}")
    return [PEERS[name](max_rows=int(caps[name]) if name in caps else None) for name in names]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="all", help="comma list, or all")
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--peers", default="all", help=f"all, none, or of {', '.join(PEERS)}")
    parser.add_argument("--peer-max-rows", default="", help="subsample a peer: name=rows,...")
    parser.add_argument("--results", type=Path, default=RESULTS_JSON)
    parser.add_argument(
        "--section",
        default="ranking_quality",
        help="BENCHMARKS.md section to write (another keeps an earlier model's figures)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; touch no file")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the section from the results file"
    )
    args = parser.parse_args(argv)
    if args.render_only:
        cells = load_cells(args.results)
        commands = list(dict.fromkeys(c["command"] for c in cells))
        write_section(args.section, commands[-1], render(cells, commands))
        return
    known = (*scenario_names(), ALIEN)
    if args.scenarios in ("all", "all+alien"):
        scenarios = list(scenario_names()) + ([ALIEN] if args.scenarios == "all+alien" else [])
    else:
        scenarios = args.scenarios.split(",")
    missing = [name for name in scenarios if name not in known]
    if missing:
        raise SystemExit(f"unknown scenarios {missing}; this generator has {', '.join(known)}")
    peers = parse_peers(args.peers, args.peer_max_rows)
    command = "nice -n 10 .venv/bin/python bench/bench_ranking_quality.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )

    new: list[dict[str, Any]] = []
    old = [] if args.no_write else load_cells(args.results)
    with tempfile.TemporaryDirectory(prefix="polku-bench-ranking-") as tmp:
        for scenario in scenarios:
            for size in _ints(args.sizes):
                for seed in _ints(args.seeds):
                    print(f"{scenario}, {size:,} clients, seed {seed}", flush=True)
                    cell = run_cell(
                        scenario, size, seed, peers, Path(tmp), lambda s: print(s, flush=True)
                    )
                    cell["command"] = command.strip()
                    new.append(cell)
                    if not args.no_write:  # keep every finished cell should the run be cut
                        save_cells(args.results, merge_cells(old, new))
    cells = merge_cells(old, new)
    commands = list(dict.fromkeys(c["command"] for c in cells))
    body = render(cells, commands)
    print(body)
    if not args.no_write:
        write_section(args.section, commands[-1], body)


if __name__ == "__main__":
    main()
