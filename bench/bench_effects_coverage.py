"""Benchmark: do the AIPW intervals of `polku effects DIR` cover the world's true effects?

For several seeded worlds, estimate each service's effect against none on both targets
(the register defaults: client episodes, need fields + age, language, status, benefit and
year as covariates, clusters by client), and compare each estimate with the truth: the mean
of p(service) - p(none) over the treated episodes (ATT) or over both arms (ATE), from the
world's true outcome probabilities. Reports the coverage of the 95 % intervals, the bias and
the error, beside the naive difference in means.
Run: `.venv/bin/python bench/bench_effects_coverage.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks_md import write_section

from models.objectives import TRUTH_OUTCOME_OF_TARGET
from pipeline.effects.register import register_episodes, service_effects, true_effect
from pipeline.synth.world import GeneratedWorld, SynthConfig, generate_world

N_CLIENTS = 20_000
SEEDS = (0, 1, 2, 3, 4)
ESTIMANDS = ("att", "ate")
LARGE_ARM = 200
HIDDEN_SEEDS = (0, 1)


def _summary(rows: list[dict[str, float]], estimator: str) -> dict[str, float]:
    errors = np.array([r[f"{estimator}_estimate"] - r["truth"] for r in rows])
    covered = np.array(
        [r[f"{estimator}_low"] <= r["truth"] <= r[f"{estimator}_high"] for r in rows]
    )
    return {
        "coverage": float(covered.mean()),
        "bias": float(errors.mean()),
        "median_abs_error": float(np.median(np.abs(errors))),
        "rmse": float(np.sqrt(np.mean(errors**2))),
    }


GROUP_ROWS: list[dict[str, float]] = []


def _rows(world: GeneratedWorld, estimand: str, seed: int) -> list[dict[str, float]]:
    data = register_episodes(world.episodes, world.catalog)
    result = service_effects(data, world.catalog, estimand=estimand, seed=seed)  # type: ignore[arg-type]
    out = []
    for e in result.effects:
        truth = world.truth_matrix(TRUTH_OUTCOME_OF_TARGET[e.target])[data.kept]
        if estimand == "att" and not world.config.hidden_confounder:
            for grouping, levels in e.groups.items():
                labels = np.asarray(data.groups[grouping])[e.rows].astype(str)
                for level, g in levels.items():
                    value = true_effect(e, truth, world.catalog, within=labels == level)
                    aipw = g.estimates["aipw"]
                    GROUP_ROWS.append({
                        "truth": value, "aipw_estimate": aipw.estimate, "aipw_low": aipw.ci_low,
                        "aipw_high": aipw.ci_high,
                    })  # fmt: skip
        row = {
            "truth": true_effect(e, truth, world.catalog),
            "n_treated": e.n_treated,
            "warned": float(bool(e.warnings)),
        }
        for name in ("aipw", "difference_in_means"):
            est = e.estimates[name]
            row |= {f"{name}_estimate": est.estimate, f"{name}_low": est.ci_low,
                    f"{name}_high": est.ci_high}  # fmt: skip
        out.append(row)
    return out


def hidden_confounder_rows() -> list[dict[str, float]]:
    """ATT estimates against the truth in worlds with an unobserved confounder."""
    rows: list[dict[str, float]] = []
    for seed in HIDDEN_SEEDS:
        world = generate_world(SynthConfig(n_clients=N_CLIENTS, seed=seed, hidden_confounder=True))
        rows += _rows(world, "att", seed)
    return rows


WHATIF_TRAIN_SEED = 100
WHATIF_SEEDS = tuple(range(101, 121))
WHATIF_CLIENTS = 3000


def whatif_section() -> str:
    """Coverage of the 'what if Polku had been followed' gain over fresh worlds."""
    from models.bundle import PolkuModel
    from models.ranker import ServiceRanker
    from pipeline.data.episodes import true_objective_outcomes
    from pipeline.effects.whatif import policy_versus_logged

    objective = "employment_or_education_6m"
    world = generate_world(SynthConfig(n_clients=WHATIF_CLIENTS, seed=WHATIF_TRAIN_SEED))
    data = register_episodes(world.episodes, world.catalog)
    ranker = ServiceRanker(services=world.catalog.ids, n_bootstrap=0, random_state=0)
    ranker.fit(
        data.frame, data.service_id, data.outcomes,
        propensity=data.propensity, allowed=data.allowed, groups=data.clusters,
    )  # fmt: skip
    model = PolkuModel.build(ranker, world.catalog, metadata={})
    errors: dict[str, list[float]] = {"ips": [], "snips": [], "dr": []}
    covered: dict[str, list[bool]] = {"ips": [], "snips": [], "dr": []}
    widths: dict[str, list[float]] = {"ips": [], "snips": [], "dr": []}
    true_gains = []
    for seed in WHATIF_SEEDS:
        fresh = generate_world(SynthConfig(n_clients=WHATIF_CLIENTS, seed=seed))
        fresh_data = register_episodes(fresh.episodes, fresh.catalog)
        truth = true_objective_outcomes(
            {k: fresh.truth_matrix(k)[fresh_data.kept] for k in (objective, "employed_12m")},
            objective,
        )
        overall = policy_versus_logged(
            fresh_data, model, objective, fresh.catalog, true_outcomes=truth
        ).overall
        assert overall.true_gain is not None
        true_gains.append(overall.true_gain)
        for name, gain in overall.gains.items():
            errors[name].append(gain.estimate - overall.true_gain)
            covered[name].append(gain.ci_low <= overall.true_gain <= gain.ci_high)
            widths[name].append(gain.ci_high - gain.ci_low)
    lines = [
        f"A ranker trained on one world of {WHATIF_CLIENTS:,} clients (seed "
        f"{WHATIF_TRAIN_SEED}); its top-1 policy valued against logged practice on "
        f"{len(WHATIF_SEEDS)} fresh worlds of the same size (objective `{objective}`), "
        "with the logged propensities; truth from the worlds' true probabilities (median "
        f"true gain {statistics.median(true_gains):+.4f}).",
        "",
        "| estimator of the gain | coverage of 95 % interval | bias | median interval width |",
        "|---|---|---|---|",
    ]
    for name, label in (("ips", "IPS"), ("snips", "SNIPS"), ("dr", "doubly robust")):
        lines.append(
            f"| {label} | {np.mean(covered[name]):.0%} | {np.mean(errors[name]):+.4f} | "
            f"{statistics.median(widths[name]):.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    rows: dict[str, list[dict[str, float]]] = {e: [] for e in ESTIMANDS}
    per_seed: dict[str, list[float]] = {e: [] for e in ESTIMANDS}
    timings = []
    n_episodes = []
    for seed in SEEDS:
        world = generate_world(SynthConfig(n_clients=N_CLIENTS, seed=seed))
        n_episodes.append(int(register_episodes(world.episodes, world.catalog).service_id.size))
        for estimand in ESTIMANDS:
            start = time.perf_counter()
            seed_rows = _rows(world, estimand, seed)
            timings.append(time.perf_counter() - start)
            rows[estimand] += seed_rows
            per_seed[estimand].append(_summary(seed_rows, "aipw")["coverage"])
            print(f"seed {seed} {estimand}: {len(seed_rows)} pairs, "
                  f"AIPW coverage {per_seed[estimand][-1]:.3f}")  # fmt: skip

    lines = [
        f"{len(SEEDS)} worlds of {N_CLIENTS:,} clients (seeds {', '.join(map(str, SEEDS))}; "
        f"median {statistics.median(n_episodes):,.0f} client episodes each). Each service "
        "with at least 30 treated and 30 control episodes, against none, on both targets "
        "(`employment_or_education_6m`, `employment_12m`); truth = mean of p(service) - "
        "p(none) from the world's true probabilities over the treated (ATT) or both arms "
        "(ATE). Intervals: 95 %, cluster-robust influence function (clients).",
        "",
        "| estimand | estimator | pairs | coverage | min coverage of a seed | bias | "
        "median abs error | RMSE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for estimand in ESTIMANDS:
        for name, label in (("aipw", "AIPW"), ("difference_in_means", "naive difference")):
            s = _summary(rows[estimand], name)
            seed_min = min(per_seed[estimand]) if name == "aipw" else float("nan")
            lines.append(
                f"| {estimand.upper()} | {label} | {len(rows[estimand])} | {s['coverage']:.1%} | "
                + (f"{seed_min:.1%}" if name == "aipw" else "") +
                f" | {s['bias']:+.4f} | {s['median_abs_error']:.4f} | {s['rmse']:.4f} |"
            )  # fmt: skip
    for estimand in ESTIMANDS:
        quiet = [r for r in rows[estimand] if not r["warned"]]
        loud = [r for r in rows[estimand] if r["warned"]]
        q, w = _summary(quiet, "aipw"), _summary(loud, "aipw")
        lines.append(
            f"| {estimand.upper()} | AIPW, pairs without warnings | {len(quiet)} | "
            f"{q['coverage']:.1%} |  | {q['bias']:+.4f} | {q['median_abs_error']:.4f} | "
            f"{q['rmse']:.4f} |"
        )
        lines.append(
            f"| {estimand.upper()} | AIPW, pairs with overlap/balance warnings | {len(loud)} | "
            f"{w['coverage']:.1%} |  | {w['bias']:+.4f} | {w['median_abs_error']:.4f} | "
            f"{w['rmse']:.4f} |"
        )
    hidden = hidden_confounder_rows()
    h, hd = _summary(hidden, "aipw"), _summary(hidden, "difference_in_means")
    groups = _summary(GROUP_ROWS, "aipw")
    large = [r for r in rows["att"] if r["n_treated"] >= LARGE_ARM]
    a, d = _summary(large, "aipw"), _summary(large, "difference_in_means")
    lines += [
        "",
        f"Services with at least {LARGE_ARM} treated episodes ({len(large)} ATT pairs), where "
        f"confounding rather than noise dominates the error: AIPW coverage {a['coverage']:.1%}, "
        f"median abs error {a['median_abs_error']:.4f}; naive difference coverage "
        f"{d['coverage']:.1%}, median abs error {d['median_abs_error']:.4f}.",
        "",
        f"By group (age band, language group, long-term unemployment; ATT; groups with at "
        f"least 15 episodes in each arm; {len(GROUP_ROWS)} service x target x group "
        f"estimates): AIPW coverage {groups['coverage']:.1%}, bias {groups['bias']:+.4f}, "
        f"median abs error {groups['median_abs_error']:.4f}.",
        "",
        "The RMSE is driven by a few pairs with tiny effective treated arms (small services; "
        "for the ATE, treated units with propensities near 0 get weights in the hundreds): "
        "exactly the pairs the overlap warnings flag, and their wide intervals still cover.",
        "",
        f"Sensitivity: with the world's hidden confounder switched on (an unobserved "
        f"motivation raising both an active service's chance and every outcome; seeds "
        f"{', '.join(map(str, HIDDEN_SEEDS))}, ATT, {len(hidden)} pairs), AIPW coverage falls "
        f"to {h['coverage']:.1%} (bias {h['bias']:+.4f}; naive difference {hd['coverage']:.1%}, "
        f"bias {hd['bias']:+.4f}): no adjustment for observed covariates can remove "
        "confounding by what is not observed.",
        "",
        f"Time per world and estimand (all services, both targets, groups): median "
        f"{statistics.median(timings):.1f} s. Goal: coverage >= 90 %.",
    ]
    body = "\n".join(lines)
    print(body)
    write_section("effects_coverage", ".venv/bin/python bench/bench_effects_coverage.py", body)
    whatif = whatif_section()
    print(whatif)
    write_section("effects_whatif", ".venv/bin/python bench/bench_effects_coverage.py", whatif)


if __name__ == "__main__":
    main()
