"""console:// prints the first rows of every batch (largest counts first, then by value) and
counts every row of it in the same job: what it prints and the count the writer records are
both compared with what plain Python makes of the same rows."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, MapType, StringType, StructField, StructType

from sparkkit.output import BatchWriter
from sparkkit.progress import reset_stats
from sparkkit.sinks import BatchInfo, sink_for

WHEN = datetime(2026, 11, 26, 8, 0, 0)
HEADER = ["-" * 60, "Batch: 2026-11-26 08:00:00 (batch 3)", "-" * 60]


def table(columns: list[str], rows: list[tuple[object, ...]]) -> list[str]:
    """The lines the sink should print for ``rows``, computed here independently."""
    widths = [max(len(c), *(len(str(r[i])) for r in rows)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return lines


def test_word_counts_print_the_largest_first_and_count_every_row(
    spark: SparkSession, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(7)
    words = [f"w{rng.randrange(60):02d}" for _ in range(3000)]
    counts = Counter(words)
    schema = StructType([StructField("word", StringType()), StructField("count", LongType())])
    df = spark.createDataFrame(sorted(counts.items()), schema).repartition(3)
    writer = BatchWriter(sink_for("console://?rows=7"), schema, "console-test", "run", with_batch_time=False)
    stats = reset_stats("console-test")

    writer.emit(df, BatchInfo(WHEN, 3, "run"))

    shown = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:7]
    expected = [*HEADER, *table(["word", "count"], shown), f"... (showing the first 7 of {len(counts)} rows)"]
    assert capsys.readouterr().out.splitlines() == expected
    assert stats.rows == len(counts)


def test_an_empty_batch_says_so_and_counts_none(
    spark: SparkSession, capsys: pytest.CaptureFixture[str]
) -> None:
    df = spark.createDataFrame([], "word string, count bigint")
    assert sink_for("console://").write(df, BatchInfo(WHEN, 3, "run")) == 0
    assert capsys.readouterr().out.splitlines() == [*HEADER, "(no rows)"]


def test_rows_without_counts_print_in_value_order_and_unsortable_columns_are_shown(
    spark: SparkSession, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [(f"k{i % 4}", 10 - i, {"i": i}) for i in range(10)]
    schema = StructType(
        [
            StructField("a.b", StringType()),
            StructField("n", LongType()),
            StructField("m", MapType(StringType(), LongType())),
        ]
    )
    df = spark.createDataFrame(rows, schema).repartition(2)
    assert sink_for("console://?rows=4").write(df, BatchInfo(WHEN, 3, "run")) == len(rows)
    shown = sorted(rows, key=lambda r: (r[0], r[1]))[:4]
    expected = [*HEADER, *table(["a.b", "n", "m"], shown), f"... (showing the first 4 of {len(rows)} rows)"]
    assert capsys.readouterr().out.splitlines() == expected


def test_nothing_sortable_prints_rows_as_they_come_and_counts_every_row(
    spark: SparkSession, capsys: pytest.CaptureFixture[str]
) -> None:
    df = spark.createDataFrame([({"i": i},) for i in range(25)], "m map<string,bigint>").repartition(4)
    assert sink_for("console://?rows=3").write(df, BatchInfo(WHEN, 3, "run")) == 25
    out = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert out[:4] == [*HEADER, "m"] and out[-1] == "... (showing the first 3 of 25 rows)"
    shown = out[4:-1]
    assert len(set(shown)) == 3 and set(shown) <= {str({"i": i}) for i in range(25)}
