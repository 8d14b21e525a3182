"""Benchmark: does exploration with known probabilities make the learning loop learn better?

The loop of `pipeline.loop.simulate` on synthetic worlds: round 1 trains on the world's
caseworker logs; each later round serves a fresh period of clients (caseworkers follow the
service shown first with probability `--follow`, otherwise choose as they would alone),
draws the outcomes from the world's truth and retrains on every round so far. Two arms on
the same periods: no exploration (the model's best always first) and exploration
(`models.exploration`: the first place drawn among the services the model cannot tell
apart, the model's best keeping 1 - share, never a credibly negative service).

Reported, as means over seeds: the true value of the served policy per round (the share
employed or in education at six months), of the served model's own best-first ("greedy")
policy, of the caseworkers alone and of the oracle; the final round per group, exploration
minus none; and the coverage of the 95 % off-policy intervals (IPW and DR with the logged
probabilities) of (a) the served model's greedy policy on its own round and (b) the next
model's greedy policy on the round it learnt from. The plot is written to
`bench/results/NAME.png`, the rows to `bench/results/NAME.csv` (`--name`, default
`learning_loop`).

Run: `nice -n 10 .venv/bin/python bench/bench_learning_loop.py [--seeds 1 2 3 4]
[--rounds 7] [--initial-persons 10000] [--persons-per-round 8000] [--write]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks_md import write_section

from models.exploration import DESIGNS, ExplorationRule
from pipeline.loop.simulate import LoopConfig, results_frame, run_loop

RESULTS = Path(__file__).resolve().parent / "results"
ARMS = ("none", "explore")


def plot(frame: pd.DataFrame, out: Path) -> None:
    """Served and greedy value per round, mean over seeds with each seed faint."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    data = frame[frame["group"] == "all"]
    figure = Figure(figsize=(11, 4))
    axes = figure.subplots(1, 2, sharey=True)
    colours = {"none": "tab:blue", "explore": "tab:orange"}
    for ax, column, title in zip(
        axes, ("served", "greedy"), ("policy served", "served model's best-first"), strict=True
    ):
        for arm in ARMS:
            arm_rows = data[data["arm"] == arm]
            for _, seed_rows in arm_rows.groupby("seed"):
                ax.plot(seed_rows["round"], seed_rows[column], color=colours[arm], alpha=0.2)
            mean = arm_rows.groupby("round")[column].mean()
            ax.plot(mean.index, mean.to_numpy(), color=colours[arm], marker="o", label=arm)
        for column_ref, style, label in (
            ("caseworkers", "--", "caseworkers alone"),
            ("oracle", ":", "oracle"),
        ):
            reference = data[data["arm"] == "none"].groupby("round")[column_ref].mean()
            ax.plot(reference.index, reference.to_numpy(), "k" + style, label=label, alpha=0.7)
        ax.set_title(f"True value: {title}")
        ax.set_xlabel("round (1: caseworker logs only)")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("share employed or in education at 6 months")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90, bbox_inches="tight")


def summary(frame: pd.DataFrame, name: str = "learning_loop") -> str:
    """The markdown body: the per-round table, the groups, the coverage and the verdict."""
    data = frame[frame["group"] == "all"]
    served_rounds = data[data["round"] > 1]
    lines = [
        "| round | served none | served explore | greedy none | greedy explore | "
        "caseworkers | oracle | randomised (explore) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by = data.groupby(["arm", "round"]).mean(numeric_only=True)
    for r in sorted(data["round"].unique()):
        n, e = by.loc[("none", r)], by.loc[("explore", r)]
        lines.append(
            f"| {r} | {n.served:.4f} | {e.served:.4f} | {n.greedy:.4f} | {e.greedy:.4f} | "
            f"{n.caseworkers:.4f} | {n.oracle:.4f} | {e.randomised_share:.0%} |"
        )
    mean_served = served_rounds.groupby("arm")["served"].mean()
    last = data["round"].max()
    final = data[data["round"] == last].set_index(["arm", "seed"])
    first_half = served_rounds[served_rounds["round"] <= (2 + last) / 2]
    early = first_half.groupby("arm")["served"].mean()
    seeds = sorted(frame["seed"].unique())
    final_served = final["served"].unstack("arm")
    final_greedy = final["greedy"].unstack("arm")
    lines += [
        "",
        f"Means over seeds {', '.join(str(s) for s in seeds)}. Mean served value over the "
        f"served rounds: none {mean_served['none']:.4f}, explore {mean_served['explore']:.4f} "
        f"(first half: {early['none']:.4f} against {early['explore']:.4f}). Final round "
        f"{last}, explore minus none: served "
        f"{(final_served['explore'] - final_served['none']).mean():+.4f} "
        f"(per seed {_signed(final_served['explore'] - final_served['none'])}), greedy "
        f"{(final_greedy['explore'] - final_greedy['none']).mean():+.4f} "
        f"(per seed {_signed(final_greedy['explore'] - final_greedy['none'])}).",
        "",
        "Final round per group, explore minus none (mean over seeds; min over seeds):",
        "",
        "| group | served | min | greedy | min | explore vs caseworkers (served) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    groups = frame[frame["round"] == last].set_index(["group", "arm", "seed"])
    losing = []
    for group in frame["group"].unique():
        g = groups.loc[group]
        served = g["served"].unstack("arm")
        greedy = g["greedy"].unstack("arm")
        d_served = served["explore"] - served["none"]
        d_greedy = greedy["explore"] - greedy["none"]
        vs_cw = (g.loc["explore"]["served"] - g.loc["explore"]["caseworkers"]).mean()
        if d_served.mean() < 0:
            losing.append(group)
        lines.append(
            f"| {group} | {d_served.mean():+.4f} | {d_served.min():+.4f} | "
            f"{d_greedy.mean():+.4f} | {d_greedy.min():+.4f} | {vs_cw:+.4f} |"
        )
    lines += [
        "",
        "Coverage of the 95 % off-policy intervals over served rounds x seeds (support: "
        "share of clients whose policy choice had a positive logged probability):",
        "",
        "| arm | target | IPW coverage | DR coverage | mean support | IPW mean error | "
        "DR mean error |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    coverage = {}
    for arm in ARMS:
        rows = served_rounds[served_rounds["arm"] == arm]
        for target, label in (("ope_greedy", "served model, own round"),
                              ("ope_next", "next model, round it learnt from")):  # fmt: skip
            ipw_cov = rows[f"{target}_ipw_covers"].mean()
            dr_cov = rows[f"{target}_dr_covers"].mean()
            coverage[(arm, target)] = (ipw_cov, dr_cov)
            lines.append(
                f"| {arm} | {label} | {ipw_cov:.0%} | {dr_cov:.0%} | "
                f"{rows[f'{target}_support'].mean():.0%} | "
                f"{(rows[f'{target}_ipw'] - rows[f'{target}_truth']).mean():+.4f} | "
                f"{(rows[f'{target}_dr'] - rows[f'{target}_truth']).mean():+.4f} |"
            )
    # "Met" only when every seed agrees: the means differ by less than the seeds do.
    early_seed = first_half.groupby(["arm", "seed"])["served"].mean().unstack("arm")
    d_served = final_served["explore"] - final_served["none"]
    d_greedy = final_greedy["explore"] - final_greedy["none"]
    faster = bool((early_seed["explore"] > early_seed["none"]).all())
    higher = bool((d_served > 0).all())
    higher_greedy = bool((d_greedy > 0).all())
    covered = min(coverage[("explore", "ope_greedy")]) >= 0.9

    def verdict(met: bool, wins: int) -> str:
        return f"{'met' if met else 'not met'}, {wins} of {len(seeds)} seeds"

    lines += [
        "",
        "Goal (issue 16; met = in every seed): with exploration the policy value rises faster "
        f"({verdict(faster, int((early_seed['explore'] > early_seed['none']).sum()))}), ends "
        f"higher (served: {verdict(higher, int((d_served > 0).sum()))}; the model's own "
        f"best-first: {verdict(higher_greedy, int((d_greedy > 0).sum()))}), no group loses "
        f"({'met' if not losing else 'not met: ' + ', '.join(losing)}), off-policy intervals "
        "with the logged probabilities hold the truth >= 90 % "
        f"({'met' if covered else 'not met'} for the served model's policy; the next "
        f"model's: IPW {coverage[('explore', 'ope_next')][0]:.0%}, "
        f"DR {coverage[('explore', 'ope_next')][1]:.0%}).",
        "",
        f"![learning loop](bench/results/{name}.png)",
    ]
    return "\n".join(lines)


def _rule(args: argparse.Namespace) -> ExplorationRule:
    """The exploration arm's rule: the design's defaults, overridden by the options given."""
    base = ExplorationRule.posterior() if args.design == "posterior" else ExplorationRule()
    return replace(
        base,
        share=base.share if args.share is None else args.share,
        max_candidates=base.max_candidates if args.max_candidates is None else args.max_candidates,
        floor=base.floor if args.floor is None else args.floor,
    )


def describe_rule(rule: ExplorationRule) -> str:
    """The exploration arm in words, for the section's first paragraph."""
    if rule.design == "posterior":
        return (
            f"exploration design posterior (probability of being best, floor {rule.floor}, "
            f"the top keeping at least {1 - rule.share:g}) among at most "
            f"{rule.max_candidates} services"
        )
    return f"exploration share {rule.share} among at most {rule.max_candidates} services"


def _signed(values: pd.Series) -> str:
    return ", ".join(f"{v:+.4f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--initial-persons", type=int, default=10_000)
    parser.add_argument("--persons-per-round", type=int, default=8_000)
    parser.add_argument("--follow", type=float, default=0.6)
    parser.add_argument(
        "--design", choices=DESIGNS, default="near_ties", help="models.exploration's design"
    )
    parser.add_argument("--share", type=float, help="default: the design's")
    parser.add_argument("--max-candidates", type=int, help="default: the design's")
    parser.add_argument("--floor", type=float, help="posterior design only; default its own")
    parser.add_argument("--n-bootstrap", type=int, default=10)
    parser.add_argument("--name", default="learning_loop", help="results files and section")
    parser.add_argument("--write", action="store_true", help="write the BENCHMARKS.md section")
    parser.add_argument(
        "--summarise", action="store_true", help="only re-read NAME.csv, re-plot and re-write"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    rule = _rule(args)
    frames = []
    if args.summarise:
        frames.append(pd.read_csv(RESULTS / f"{args.name}.csv"))
    for seed in [] if args.summarise else args.seeds:
        config = LoopConfig(
            seed=seed,
            rounds=args.rounds,
            initial_persons=args.initial_persons,
            persons_per_round=args.persons_per_round,
            follow=args.follow,
            n_bootstrap=args.n_bootstrap,
        )
        results = run_loop(
            config,
            {"none": None, "explore": rule},
            progress=lambda m: print(f"[{time.perf_counter() - started:7.0f} s] {m}", flush=True),
        )
        frames.append(results_frame(results).assign(seed=seed))
        frame = pd.concat(frames, ignore_index=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        frame.to_csv(RESULTS / f"{args.name}.csv", index=False)  # kept as seeds finish
    frame = pd.concat(frames, ignore_index=True)
    plot(frame, RESULTS / f"{args.name}.png")
    body = (
        f"Rounds {args.rounds} (round 1: caseworker logs of a {args.initial_persons:,}-person "
        f"world; then {args.rounds - 1} served periods of {args.persons_per_round:,} persons "
        f"each, about 1.2 eligible assessments a person), follow probability {args.follow}, "
        f"{describe_rule(rule)}, "
        f"ranker bootstrap {args.n_bootstrap}"
        + (
            " (summarised from the saved rows).\n\n"
            if args.summarise
            else f"; {time.perf_counter() - started:.0f} s in all.\n\n"
        )
        + summary(frame, args.name)
    )
    print(body)
    if args.write:
        command = "nice -n 10 .venv/bin/python " + " ".join(
            ["bench/bench_learning_loop.py", *(a for a in sys.argv[1:] if a != "--summarise")]
        )
        write_section(args.name, command, body)


if __name__ == "__main__":
    main()
