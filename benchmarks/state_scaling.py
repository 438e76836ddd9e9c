"""Cost of one batch against state size: updateStateByKey vs transformWithStateInPandas (RocksDB).

running_counts over files: the first holds N distinct keys (the state), each later one 1,000 keys
drawn from them. Each (API, N) runs in its own driver process so that the JVM's peak memory
(VmHWM; in local mode driver and executors share one JVM) belongs to that case alone.
Goal: the Structured form at 1M keys within 2x of its time at 10k keys.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import jvm_peak_rss_mb, run_measured, session, write_results

UPDATED_PER_BATCH, MEASURED = 1000, 8


def write_input(directory: Path, keys: int, batches: int) -> None:
    rng = random.Random(7)
    (directory / "batch-000000.txt").write_text("".join(f"k{i}\n" for i in range(keys)))
    for b in range(1, batches + 1):
        chosen = rng.sample(range(keys), UPDATED_PER_BATCH)
        (directory / f"batch-{b:06d}.txt").write_text("".join(f"k{i}\n" for i in chosen))


def one(api: str, keys: int) -> dict[str, Any]:
    """Measure one case in this process (called in a child process by main)."""
    spark = session(f"state-{api}-{keys}")
    data = Path(tempfile.mkdtemp(prefix="sparkkit-state-"))
    write_input(data, keys, MEASURED + 1)
    cli = {
        "api": api,
        "source": [f"file://{data}?format=text&maxFilesPerTrigger=1"],
        "batch_interval": "1s" if api == "dstream" else "100ms",
    }
    result = run_measured(spark, "running_counts", cli, MEASURED, skip=1, timeout=1800)
    result["jvm_peak_rss_mb"] = jvm_peak_rss_mb(spark)
    spark.stop()
    return result


def main(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for api in ("structured", "dstream"):
        for keys in sizes:
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.state_scaling", "--one", api, str(keys)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if child.returncode != 0:
                cases[f"{api}-{keys}"] = {"error": child.stderr[-2000:]}
                print(f"{api}-{keys} failed", flush=True)
                continue
            cases[f"{api}-{keys}"] = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"{api}-{keys}", cases[f"{api}-{keys}"]["median_ms"], "ms median", flush=True)
    ratios: dict[str, float] = {}
    small, large = f"-{min(sizes)}", f"-{max(sizes)}"
    for api in ("structured", "dstream"):
        a, b = cases.get(api + large, {}), cases.get(api + small, {})
        if "median_ms" in a and "median_ms" in b:
            ratios[f"{api}_{max(sizes)}_over_{min(sizes)}"] = a["median_ms"] / b["median_ms"]
    results = {"updated_per_batch": UPDATED_PER_BATCH, "cases": cases, "ratios": ratios}
    write_results("state_scaling", results)
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one(sys.argv[2], int(sys.argv[3]))))
    else:
        main(tuple(int(a) for a in sys.argv[1:]) or (10_000, 100_000, 1_000_000))
