"""wordcount from Kafka: Structured through sparkkit's Python Data Source reader, and the direct DStream."""

from __future__ import annotations

from collections import Counter

import pytest

from sparkkit.testing import Rows, StreamHarness, topic_with


def totals(rows: Rows) -> Counter[str]:
    counted: Counter[str] = Counter()
    for row in rows:
        counted[row["word"]] += row["count"]
    return counted


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_wordcount_from_kafka_is_exact(
    stream_harness: StreamHarness, kafka_bootstrap: str, client: str
) -> None:
    records = [f"w{i % 5} common" for i in range(40)]
    topic = topic_with(kafka_bootstrap, records)
    expected = Counter(w for r in records for w in r.split())
    source = (
        f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest&maxOffsetsPerTrigger=7&minPartitions=3"
        f"&client={client}"
    )
    rows = stream_harness.run_live(
        "wordcount", [source], until=lambda rows: sum(totals(rows).values()) >= 80, api="structured"
    )
    assert totals(rows) == expected
    stats = stream_harness.last_stats
    assert (
        stats is not None and stats.batches >= 6
    )  # maxOffsetsPerTrigger=7 over 40 records: at least 6 batches
    # the consumer lag of each batch: what the topic holds beyond the batch's end offsets
    assert stats.wait_for(lambda s: len(s.completed) >= 6, 60)
    lags = [r["kafka_lag"] for r in stream_harness.last_metrics if r["input_rows"]]
    assert lags == [33, 26, 19, 12, 5, 0]


def test_direct_dstream_wordcount_from_kafka_is_exact(
    stream_harness: StreamHarness, kafka_bootstrap: str
) -> None:
    records = [f"d{i % 4} common" for i in range(30)]
    topic = topic_with(kafka_bootstrap, records)
    expected = Counter(w for r in records for w in r.split())
    source = f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest&maxRatePerPartition=10&client=kafka-python"
    rows = stream_harness.run_live(
        "wordcount", [source], until=lambda rows: sum(totals(rows).values()) >= 60, api="dstream",
        options={"checkpoint": str(stream_harness.workdir / "kafka-ck")},
    )  # fmt: skip
    assert totals(rows) == expected  # and the settle batches counted nothing twice
    assert stream_harness.last_stats is not None and stream_harness.last_stats.batches >= 3  # 10/s/partition
