"""Whole runs in the test process: the memory sink's view, a Structured restart on its checkpoint."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkkit.config import load_config
from sparkkit.errors import CheckpointMismatchError, SparkkitError
from sparkkit.runner import Run, prepare
from sparkkit.sinks import memory_table
from sparkkit.sources import generator_lines


def config_for(tmp_path: Path, **cli: object):  # type: ignore[no-untyped-def]
    return load_config(
        "wordcount", cli={"batch_interval": "500ms", **cli}, env={}, conf_dir=tmp_path / "no-conf"
    )


def test_memory_sink_publishes_a_view(spark: SparkSession, tmp_path: Path) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    lines = generator_lines("m", 0, 60, 0, 3)
    (watched / "words.txt").write_text("\n".join(lines) + "\n")
    source = f"file://{watched}?format=text"
    job = Run(prepare(config_for(tmp_path, source=[source], sink="memory://recent_counts")), spark)
    job.start()
    try:
        job.process_all_available()
    finally:
        job.stop()
    totals = spark.sql("SELECT word, SUM(count) AS n FROM global_temp.recent_counts GROUP BY word").collect()
    assert {r["word"]: r["n"] for r in totals} == Counter(lines)
    assert memory_table("recent_counts").total_batches > 0


def test_structured_restart_continues_and_refuses_another_source(spark: SparkSession, tmp_path: Path) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    ck = tmp_path / "ck"
    source = f"file://{watched}?format=text"

    def counted(table: str) -> Counter[str]:
        totals: Counter[str] = Counter()
        for row in memory_table(table).rows():
            totals[row["word"]] += row["count"]
        return totals

    for i, text in enumerate(["a b", "b c"]):
        (watched / f"f{i}.txt").write_text(text + "\n")
        job = Run(
            prepare(config_for(tmp_path, source=[source], sink=f"memory://restart{i}", checkpoint=str(ck))),
            spark,
        )
        job.start()
        job.process_all_available()
        job.stop()
        # the second run reads only the file added since the first: the checkpoint remembers f0
        assert counted(f"restart{i}") == Counter(text.split())

    (watched / "f2.txt").write_text("new\n")
    os.utime(watched / "f2.txt")
    with pytest.raises(CheckpointMismatchError, match="--source"):
        prepare(config_for(tmp_path, source=[source + "&maxFilesPerTrigger=1"], checkpoint=str(ck)))


def test_process_all_available_refuses_a_source_that_never_runs_dry(
    spark: SparkSession, tmp_path: Path
) -> None:
    job = Run(prepare(config_for(tmp_path, source=["generator://g?rate=5"], sink="memory://endless")), spark)
    with pytest.raises(SparkkitError, match="generator://g\\?rate=5 never runs dry"):
        job.process_all_available()
