"""Topics written by a batching producer: every record counted, in both APIs, and the lag exact.

The embedded broker (tansu) answers ListOffsets(latest) with the base offset of a partition's
last record batch + 1, so a batching producer's last records stay hidden from a reader that
plans on it; sparkkit plans on the high watermark of a Fetch instead
(:func:`sparkkit.kafka_client.fetch_offsets`).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from sparkkit.kafka_client import ClientConfig, fetch_offsets
from sparkkit.testing import Rows, StreamHarness

PARTITIONS = 2


def batched_topic(bootstrap: str, records: Sequence[str], flush_every: int) -> tuple[str, dict[int, int]]:
    """A new topic holding ``records`` (round robin over its partitions), sent by librdkafka in
    batches (linger.ms=50, a flush every ``flush_every`` records); its name and each partition's
    end offset as the producer's delivery reports give it."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"b{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: its futures die with it
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(timeout=30)
    ends: dict[int, int] = {}
    failures: list[Any] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            failures.append(error)
        else:
            ends[message.partition()] = max(ends.get(message.partition(), 0), message.offset() + 1)

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.num.messages": 100_000})
    for i, record in enumerate(records):
        producer.produce(topic, value=record.encode(), partition=i % PARTITIONS, on_delivery=delivered)
        if (i + 1) % flush_every == 0:
            producer.flush(30)
    assert producer.flush(30) == 0 and not failures
    return topic, ends


def listed_ends(bootstrap: str, topic: str) -> dict[int, int]:
    """ListOffsets(latest) of each partition, as any client asks it."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def lines(count: int) -> list[str]:
    return [f"w{i % 7} common" for i in range(count)]


def word_totals(rows: Rows) -> Counter[str]:
    counted: Counter[str] = Counter()
    for row in rows:
        counted[row["word"]] += row["count"]
    return counted


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_fetch_offsets_sees_every_record_of_the_last_batch(kafka_bootstrap: str, client: str) -> None:
    records = lines(1000)
    topic, delivered = batched_topic(kafka_bootstrap, records, flush_every=300)
    # the producer's own account: 500 records per partition, offsets 0..499
    assert delivered == {0: 500, 1: 500}
    if not os.environ.get("KAFKA_BOOTSTRAP"):  # the embedded broker's ListOffsets stops in the last batch
        assert all(listed < delivered[p] for p, listed in listed_ends(kafka_bootstrap, topic).items())
    begin, end = fetch_offsets(ClientConfig(kafka_bootstrap, client), [topic])
    assert begin == {f"{topic}:0": 0, f"{topic}:1": 0}
    assert end == {f"{topic}:{p}": delivered[p] for p in range(PARTITIONS)}


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_structured_wordcount_counts_every_batched_record_and_the_lag(
    stream_harness: StreamHarness, kafka_bootstrap: str, client: str
) -> None:
    records = lines(1200)
    topic, delivered = batched_topic(kafka_bootstrap, records, flush_every=500)
    assert sum(delivered.values()) == 1200
    expected = Counter(word for line in records for word in line.split())
    source = (
        f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest&maxOffsetsPerTrigger=500&client={client}"
    )
    rows = stream_harness.run_live(
        "wordcount", [source], until=lambda rows: sum(word_totals(rows).values()) >= 2400, api="structured"
    )
    assert word_totals(rows) == expected
    stats = stream_harness.last_stats
    assert stats is not None and stats.wait_for(lambda s: len(s.completed) >= 3, 60)
    # 500 records a batch over 1200: what the topic holds beyond each batch's end
    lags = [r["kafka_lag"] for r in stream_harness.last_metrics if r["input_rows"]]
    assert [r["input_rows"] for r in stream_harness.last_metrics if r["input_rows"]] == [500, 500, 200]
    assert lags == [700, 200, 0]


def test_dstream_wordcount_counts_every_batched_record(
    stream_harness: StreamHarness, kafka_bootstrap: str
) -> None:
    records = lines(1200)
    topic, delivered = batched_topic(kafka_bootstrap, records, flush_every=500)
    assert sum(delivered.values()) == 1200
    expected = Counter(word for line in records for word in line.split())
    source = f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest&maxRatePerPartition=250"
    rows = stream_harness.run_live(
        "wordcount", [source], until=lambda rows: sum(word_totals(rows).values()) >= 2400, api="dstream",
        options={"checkpoint": str(stream_harness.workdir / "ck")},
    )  # fmt: skip
    assert word_totals(rows) == expected  # and the settle batches counted nothing twice
    # 250 records a second per partition, 600 in each: at least three batches
    assert stream_harness.last_stats is not None and stream_harness.last_stats.batches >= 3
