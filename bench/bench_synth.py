"""Benchmark: generate a synthetic Helsinki of 100,000 clients with episodes and truth.

Each repeat runs in a fresh process (`generate_world` + `write_world` to a temporary
directory) so its peak resident memory is its own. Goal (issue 3): under 60 s and under
2 GiB. Run: `.venv/bin/python bench/bench_synth.py`.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmarks_md import write_section

N_CLIENTS = 100_000
REPEATS = 3
ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {root!r})
from pipeline.synth.world import SynthConfig, generate_world, write_world
steps = {{}}
last = [time.perf_counter()]
start = last[0]
def progress(message):
    now = time.perf_counter()
    steps[message.split(" ")[0]] = now
    last[0] = now
world = generate_world(SynthConfig(n_clients={n}, seed={seed}), progress=progress)
generated = time.perf_counter()
with tempfile.TemporaryDirectory() as out:
    paths = write_world(world, out)
    written = time.perf_counter()
    sizes = {{p.name: p.stat().st_size for p in paths}}
print(json.dumps({{
    "generate_s": generated - start,
    "write_s": written - generated,
    "total_s": written - start,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "episodes": len(world.episodes),
    "truth_columns": world.truth.shape[1],
    "sizes": sizes,
}}))
"""


def run_once(seed: int) -> dict:
    code = _CHILD.format(root=str(ROOT), n=N_CLIENTS, seed=seed)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    runs = [run_once(seed) for seed in range(REPEATS)]
    med = {
        key: statistics.median(r[key] for r in runs)
        for key in ("generate_s", "write_s", "total_s", "peak_rss_mib")
    }
    sizes = runs[0]["sizes"]
    body = "\n".join(
        [
            f"Generate a world of {N_CLIENTS:,} clients ({runs[0]['episodes']:,} episodes; "
            f"truth with {runs[0]['truth_columns'] - 1} probability columns) and write it as "
            "Parquet; "
            f"{REPEATS} runs, each in a fresh process (seeds 0-{REPEATS - 1}).",
            "",
            "| step | median | runs |",
            "|---|---|---|",
            "| generate (population, limits, truth, choices, outcomes) | "
            f"{med['generate_s']:.1f} s | "
            + ", ".join(f"{r['generate_s']:.1f}" for r in runs)
            + " |",
            f"| write Parquet (clients, episodes, truth) | {med['write_s']:.1f} s | "
            + ", ".join(f"{r['write_s']:.1f}" for r in runs)
            + " |",
            f"| **total** | **{med['total_s']:.1f} s** | "
            + ", ".join(f"{r['total_s']:.1f}" for r in runs)
            + " |",
            f"| peak resident memory | {med['peak_rss_mib']:.0f} MiB | "
            + ", ".join(f"{r['peak_rss_mib']:.0f}" for r in runs)
            + " |",
            "",
            f"Goal: under 60 s and 2,048 MiB: total is {med['total_s'] / 60:.0%} of the time "
            "budget, "
            f"peak memory {med['peak_rss_mib'] / 2048:.0%} of the memory budget.",
            "File sizes: "
            + ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in sizes.items())
            + ".",
        ]
    )
    print(body)
    write_section("synth", ".venv/bin/python bench/bench_synth.py", body)


if __name__ == "__main__":
    main()
