"""generator:// with format=json on real Spark: the records in both APIs, and jobs counting them exactly."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sparkkit.duration import Duration
from sparkkit.sources import GeneratorSource, SourceContext, generator_records, source_for
from sparkkit.sources.generator import _sql_key, _sql_value, generator_key, generator_value, iso_millis
from sparkkit.testing import Rows, StreamHarness

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.streaming import StreamingContext

START = 1_795_600_800_950  # 2026-11-25T10:00:00.950Z: 600 records at 5000/s straddle a whole second
COUNT, RATE, KEYS, SEED = 600, 5000, 6, 5
ADDRESS = (
    f"generator://clicks?rate={RATE}&keys={KEYS}&seed={SEED}&count={COUNT}"
    f"&format=json&start={START}&prefix=user"
)
EXPECTED = generator_records("clicks", 0, COUNT, SEED, KEYS, RATE, START, prefix="user")
TIMEOUT = 60.0


class Collector:
    """Rows of every micro-batch (or DStream batch), and a wait on a condition over them."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.batches = 0
        self._cond = threading.Condition()

    def add(self, rows: list[dict[str, Any]]) -> None:
        with self._cond:
            self.rows.extend(rows)
            self.batches += 1
            self._cond.notify_all()

    def wait_for(self, check: Callable[[Collector], bool]) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: check(self), TIMEOUT), f"timed out: {len(self.rows)} rows"

    def settle(self) -> list[dict[str, Any]]:
        """All rows, once every record is in and two further batches ran (a duplicate would show)."""
        self.wait_for(lambda c: len(c.rows) >= COUNT)
        seen = self.batches
        self.wait_for(lambda c: c.batches >= seen + 2)
        return sorted(self.rows, key=lambda r: r["seq"])


def source(address: str = ADDRESS) -> GeneratorSource:
    generator = source_for(address)
    assert isinstance(generator, GeneratorSource)
    generator.check()
    return generator


def test_key_and_value_columns_compute_what_python_computes(spark: SparkSession) -> None:
    from pyspark.sql import functions as F

    seeds = (0, 3, -7, 10**15)
    numbers = spark.range(0, 5000).union(spark.range(2**40, 2**40 + 100))
    columns = [f(F.col("id"), seed) for seed in seeds for f in (partial(_sql_key, keys=11), _sql_value)]
    computed = [tuple(row) for row in numbers.select("id", *columns).collect()]
    assert computed == [
        (i, *(f(i, seed) for seed in seeds for f in (partial(generator_key, keys=11), generator_value)))
        for i, *_ in computed
    ]


@pytest.fixture
def structured_rows(spark: SparkSession, tmp_path: Path) -> Iterator[tuple[DataFrame, Collector]]:
    from pyspark.sql import functions as F

    frame = source().structured(spark, SourceContext(tmp_path / "state", Duration.parse("200ms")))
    collector = Collector()

    def collect(batch: DataFrame, _batch_id: int) -> None:
        rows = batch.select("key", "seq", "value", F.unix_millis("ts").alias("ts")).collect()
        collector.add([row.asDict() for row in rows])

    query = (
        frame.writeStream.foreachBatch(collect)
        .trigger(processingTime="200 milliseconds")
        .option("checkpointLocation", str(tmp_path / "ck"))
        .start()
    )
    try:
        yield frame, collector
    finally:
        query.stop()


def test_structured_rows_are_exactly_the_records(structured_rows: tuple[DataFrame, Collector]) -> None:
    frame, collector = structured_rows
    assert [(f.name, f.dataType.simpleString()) for f in frame.schema.fields] == [
        ("key", "string"),
        ("seq", "bigint"),
        ("value", "double"),
        ("ts", "timestamp"),
    ]
    assert collector.settle() == EXPECTED


def test_dstream_records_are_exactly_the_records(streaming_context: StreamingContext, tmp_path: Path) -> None:
    collector = Collector()
    stream = source().dstream(streaming_context, SourceContext(tmp_path / "state", Duration.parse("1s")))
    stream.foreachRDD(lambda rdd: collector.add(rdd.collect()))
    streaming_context.start()
    assert collector.settle() == [{**r, "ts": iso_millis(r["ts"])} for r in EXPECTED]


def final_counts(rows: Rows, *group: str) -> dict[Any, int]:
    """The last (largest) count of each group: a running total or a window's updated count."""
    out: dict[Any, int] = {}
    for row in rows:
        key = tuple(row[g] for g in group)
        out[key] = max(out.get(key, 0), row["count"])
    return out


def test_dstream_running_counts_count_every_record_once(
    stream_harness: StreamHarness, tmp_path: Path
) -> None:
    expected = {(key,): n for key, n in Counter(r["key"] for r in EXPECTED).items()}
    rows = stream_harness.run_live(
        "running_counts",
        [ADDRESS],
        until=lambda rows: sum(final_counts(rows, "key").values()) >= COUNT,
        api="dstream",
        options={"key": "key", "checkpoint": str(tmp_path / "ck")},
    )
    assert final_counts(rows, "key") == expected


def epoch_ms(moment: Any) -> int:
    """A collected (naive, local-time) timestamp as epoch milliseconds."""
    return round(moment.timestamp() * 1000)


def test_structured_event_time_windows_are_exact(stream_harness: StreamHarness, tmp_path: Path) -> None:
    window, slide = 2000, 1000
    expected: Counter[tuple[int, str]] = Counter()
    for record in EXPECTED:
        last = record["ts"] // slide * slide
        for start in range(last - window + slide, last + 1, slide):
            expected[(start, record["key"])] += 1
    assert len({start for start, _ in expected}) == 3  # the records straddle a second: 3 windows

    def totals(rows: Rows) -> dict[tuple[int, str], int]:
        return {(epoch_ms(s), k): n for (s, k), n in final_counts(rows, "window_start", "key").items()}

    options = {
        "key": "key",
        "event_time": "ts",
        "window": "2s",
        "slide": "1s",
        "output_mode": "update",
        "checkpoint": str(tmp_path / "ck"),
    }
    rows = stream_harness.run_live(
        "windowed_counts",
        [ADDRESS],
        until=lambda rows: sum(totals(rows).values()) >= sum(expected.values()),
        options=options,
    )
    assert totals(rows) == dict(expected)
    assert all(epoch_ms(r["window_end"]) - epoch_ms(r["window_start"]) == window for r in rows)
    assert stream_harness.last_stats is not None and stream_harness.last_stats.dropped_late == 0
