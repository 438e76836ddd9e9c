"""Sinks are typed by their delivery guarantee, and the file sinks keep theirs: exactly once.

A reader of a live json:// directory sees each batch whole or not at all (one file per batch,
renamed into place), and a re-run of a batch replaces it.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

from pyspark.sql import SparkSession

from sparkkit.sinks import BatchInfo, Delivery, sink_for

ROWS = 400


def test_every_sink_declares_its_delivery() -> None:
    kinds = {
        "json:///tmp/x": Delivery.EXACTLY_ONCE,
        "parquet:///tmp/x": Delivery.EXACTLY_ONCE,
        "kafka://localhost:9092/out": Delivery.AT_LEAST_ONCE,
        "console://": Delivery.AT_LEAST_ONCE,
        "memory://recent": Delivery.BOUNDED_REPLACE,
    }
    assert {address: sink_for(address).delivery for address in kinds} == kinds


def visible_rows(directory: Path) -> int:
    rows = 0
    for path in directory.glob("batch-*.json"):
        try:
            rows += sum(1 for line in path.read_text().splitlines() if line.strip())
        except FileNotFoundError:  # replaced between the listing and the read: the next look sees it
            continue
    return rows


def test_a_reader_of_a_live_directory_never_sees_half_a_batch(spark: SparkSession, tmp_path: Path) -> None:
    out = tmp_path / "out"
    sink = sink_for(f"json://{out}")
    seen: list[int] = []
    done = threading.Event()

    def read_while_writing() -> None:
        while not done.is_set():
            seen.append(visible_rows(out))

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    try:
        for batch_id in range(8):
            df = spark.range(ROWS, numPartitions=4).selectExpr("id", f"{batch_id} AS batch")
            sink.write(df, BatchInfo(datetime(2026, 1, 1), batch_id, "run"))
    finally:
        done.set()
        reader.join()
    assert seen and all(rows % ROWS == 0 for rows in seen), sorted(set(seen))
    assert sorted(p.name for p in out.iterdir()) == [f"batch-run-id-{i:012d}.json" for i in range(8)]

    # a batch that runs again after a crash replaces its file whole
    sink.write(spark.range(3).selectExpr("id", "99 AS batch"), BatchInfo(datetime(2026, 1, 1), 5, "run"))
    again = [json.loads(line) for line in (out / "batch-run-id-000000000005.json").read_text().splitlines()]
    assert again == [{"id": i, "batch": 99} for i in range(3)]
    assert visible_rows(out) == 7 * ROWS + 3
