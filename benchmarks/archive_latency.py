"""What reading standing queries from the archive costs in latency, against reading the source.

One pipeline, one Spark session, two text streams fed the same files at the same moments: one
with ``archive = false`` (its query reads the file source directly), one archived (an ingest query
writes the archive; the standing query reads the archive through the file sink's log). Latency is
the time from a file's rename into the watched directory to its row in the query's
``memory://`` output, as the driver sees it. Both sides run in the same run, side by side.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import session, write_results
from sparkkit.pipeline import load_pipeline
from sparkkit.processor import Processor, prepare_pipeline
from sparkkit.sinks import memory_table

PIPELINE = """
[pipeline]
name = "latency"
batch_interval = "{interval}"

[streams.direct]
source = "file://{root}/direct?format=text"
archive = false

[streams.archived]
source = "file://{root}/archived?format=text"

[queries.from_source]
sql = "SELECT value FROM direct"
output = "memory://latency_from_source?keep=100000"

[queries.from_archive]
sql = "SELECT value FROM archived"
output = "memory://latency_from_archive?keep=100000"
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(files: int, interval: str) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="sparkkit-bench-latency-"))
    for name in ("direct", "archived", "staging"):
        (root / name).mkdir()
    path = root / "latency.toml"
    path.write_text(PIPELINE.format(root=root, interval=interval))
    spark = session("archive-latency")
    processor = Processor(prepare_pipeline(load_pipeline(path), root / "ck"), spark).start()
    tables = {
        "from_source": memory_table("latency_from_source"),
        "from_archive": memory_table("latency_from_archive"),
    }
    latencies: dict[str, list[float]] = {name: [] for name in tables}
    rng = random.Random(7)
    try:
        for i in range(files):
            marker = f"file-{i}"
            seen: dict[str, float] = {}

            def wait(name: str, marker: str = marker, seen: dict[str, float] = seen) -> None:
                if tables[name].wait_for(lambda t: any(r["value"] == marker for r in t.rows()[-50:]), 120):
                    seen[name] = time.monotonic()

            waiters = [threading.Thread(target=wait, args=(name,)) for name in tables]
            for waiter in waiters:
                waiter.start()
            for stream in ("direct", "archived"):
                (root / "staging" / f"{stream}-{i}.txt").write_text(marker + "\n")
            dropped = time.monotonic()
            for stream in ("direct", "archived"):
                os.replace(root / "staging" / f"{stream}-{i}.txt", root / stream / f"{i:05d}.txt")
            for waiter in waiters:
                waiter.join()
            for name in tables:
                latencies[name].append(round((seen[name] - dropped) * 1000, 1))
            time.sleep(rng.uniform(0, 1))  # land at every phase of the trigger
    finally:
        processor.stop(graceful=False)
        spark.stop()
    summary = {
        name: {
            "p50_ms": statistics.median(values),
            "p95_ms": percentile(values, 0.95),
            "max_ms": max(values),
            "latencies_ms": values,
        }
        for name, values in latencies.items()
    }
    return {
        "files": files,
        "batch_interval": interval,
        "cases": summary,
        "archive_over_source_p50": summary["from_archive"]["p50_ms"] / summary["from_source"]["p50_ms"],
        "load_average_at_start": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--interval", default="500ms")
    args = parser.parse_args()
    results = measure(args.files, args.interval)
    for name, case in results["cases"].items():
        print(
            f"{name}: p50 {case['p50_ms']:.0f} ms, p95 {case['p95_ms']:.0f} ms, max {case['max_ms']:.0f} ms"
        )
    write_results("archive_latency", results)


if __name__ == "__main__":
    main()
