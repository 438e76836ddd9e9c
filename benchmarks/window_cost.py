"""Cost of one window slide against window length, incremental vs recompute (DStream windowed_counts).

Same generator input for every case; slide = batch interval = 500 ms; window = 2, 10, 60 slides.
Per-batch processing time is measured by the streaming listener once the window is full.
Goal: incremental at 60 within 1.5x of incremental at 2; recompute visibly growing with the window.
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks.common import run_measured, session, write_results

RATE, KEYS, INTERVAL_MS, MEASURED = 20_000, 20_000, 500, 8


def main(factors: tuple[int, ...] = (2, 10, 60)) -> dict[str, Any]:
    spark = session("window-cost")
    cases: dict[str, Any] = {}
    for factor in factors:
        for incremental in (True, False):
            name = f"{'incremental' if incremental else 'recompute'}-{factor}"
            cli = {
                "api": "dstream",
                "source": [f"generator://w?rate={RATE}&keys={KEYS}&seed=1"],
                "batch_interval": f"{INTERVAL_MS}ms",
                "window": f"{factor * INTERVAL_MS}ms",
                "slide": f"{INTERVAL_MS}ms",
                "incremental": str(incremental).lower(),
            }
            cases[name] = run_measured(spark, "windowed_counts", cli, MEASURED, skip=factor + 1)
            print(name, cases[name]["median_ms"], "ms median", flush=True)
    ratios = (
        {
            "incremental_60_over_2": cases["incremental-60"]["median_ms"]
            / cases["incremental-2"]["median_ms"],
            "recompute_60_over_2": cases["recompute-60"]["median_ms"] / cases["recompute-2"]["median_ms"],
            "recompute_over_incremental_at_60": cases["recompute-60"]["median_ms"]
            / cases["incremental-60"]["median_ms"],
        }
        if factors == (2, 10, 60)
        else {}
    )
    spark.stop()
    results = {"rate_per_s": RATE, "keys": KEYS, "interval_ms": INTERVAL_MS, "cases": cases, "ratios": ratios}
    write_results("window_cost", results)
    return results


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or (2, 10, 60))
