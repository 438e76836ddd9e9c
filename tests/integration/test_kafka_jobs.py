"""Jobs over Kafka in both APIs: exact counts, and unreadable values kept as dead letters."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from sparkkit.config import load_config
from sparkkit.deadletters import INVALID_UTF8, NOT_JSON
from sparkkit.jobs import get_job
from sparkkit.kafka_client import ClientConfig, fetch_offsets, read_batches
from sparkkit.runner import Run, prepare
from sparkkit.testing import Rows, StreamHarness, topic_with

BAD_UTF8 = [b"\xff\xfe not text", b"half \xc3( a char"]


def word_totals(rows: Rows) -> Counter[str]:
    counted: Counter[str] = Counter()
    for row in rows:
        counted[row.get("word") or row["key"]] += row["count"]
    return counted


def positions(records: list[Any], bad: list[Any], partitions: int = 2) -> set[tuple[int, int]]:
    """(partition, offset) of each ``bad`` record, as ``topic_with`` spreads records round robin."""
    return {(i % partitions, i // partitions) for i, record in enumerate(records) if record in bad}


@pytest.mark.parametrize("api", ["structured", "dstream"])
def test_wordcount_keeps_values_that_are_not_utf8_as_dead_letters(
    stream_harness: StreamHarness, kafka_bootstrap: str, api: str
) -> None:
    good = [f"u{i % 3} shared" for i in range(20)]
    records: list[str | bytes] = [*good[:7], BAD_UTF8[0], *good[7:15], BAD_UTF8[1], *good[15:]]
    topic = topic_with(kafka_bootstrap, records)
    expected = Counter(w for line in good for w in line.split())
    source = f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest"
    options = {"checkpoint": str(stream_harness.workdir / "ck")}
    rows = stream_harness.run_live(
        "wordcount", [source], lambda rows: sum(word_totals(rows).values()) >= 40, api, options
    )
    assert word_totals(rows) == expected  # every good record counted, nothing from the bad ones
    letters = stream_harness.dead_letters()
    assert {(d["partition"], d["offset"]) for d in letters} == positions(records, BAD_UTF8)
    assert {d["topic"] for d in letters} == {topic}
    assert {d["reason"] for d in letters} == {INVALID_UTF8}
    assert sorted(base64.b64decode(d["value_base64"]) for d in letters) == sorted(BAD_UTF8)
    assert stream_harness.last_stats is not None and stream_harness.last_stats.dead_letters == 2


BASE = datetime(2026, 1, 1)


def event(key: str, second: int) -> str:
    return json.dumps({"k": key, "ts": (BASE + timedelta(seconds=second)).isoformat()})


def test_structured_windowed_counts_from_kafka_json_is_exact(
    stream_harness: StreamHarness, kafka_bootstrap: str
) -> None:
    events = [event(f"k{i % 3}", i) for i in range(30)]  # seconds 0..29: three 10 s windows
    malformed: list[str | bytes] = ['{"k": "x", "ts":', "[1, 2]", b'{"k": "\xff"}']
    closer = event("closer", 3600)  # moves the watermark past every window above
    records: list[str | bytes] = [*events[:10], malformed[0], *events[10:20], malformed[1], *events[20:]]
    records += [malformed[2], closer]
    topic = topic_with(kafka_bootstrap, records)
    source = f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest&maxOffsetsPerTrigger=9&format=json&schema=k%20STRING,%20ts%20TIMESTAMP"
    options = {
        "window": "10s", "watermark": "0s", "output_mode": "append", "key": "k", "event_time": "ts",
        "checkpoint": str(stream_harness.workdir / "ck"),
    }  # fmt: skip
    expected = Counter((BASE + timedelta(seconds=10 * (i // 10)), f"k{i % 3}") for i in range(30))
    rows = stream_harness.run_live(
        "windowed_counts", [source], lambda rows: sum(r["count"] for r in rows) >= 30, "structured", options
    )
    assert {(r["window_start"], r["key"]): r["count"] for r in rows} == dict(expected)
    assert len(rows) == len(expected)  # each window and key emitted once, in append mode
    letters = stream_harness.dead_letters()
    assert {(d["partition"], d["offset"]) for d in letters} == positions(records, malformed)
    reasons = Counter(d["reason"] for d in letters)
    assert reasons == {NOT_JSON: 2, INVALID_UTF8: 1}


def test_dstream_windowed_counts_from_kafka_json_is_exact(
    stream_harness: StreamHarness, kafka_bootstrap: str
) -> None:
    events = [json.dumps({"k": f"d{i % 4}"}) for i in range(24)]
    malformed: list[str | bytes] = ["not json", '"a string"']
    records: list[str | bytes] = [*events[:12], *malformed, *events[12:]]
    topic = topic_with(kafka_bootstrap, records)
    source = f"kafka://{kafka_bootstrap}/{topic}?startingOffsets=earliest&maxRatePerPartition=8&format=json&schema=k%20STRING"
    options = {"window": "1s", "key": "k", "checkpoint": str(stream_harness.workdir / "ck")}
    rows = stream_harness.run_live(
        "windowed_counts", [source], lambda rows: sum(r["count"] for r in rows) >= 24, "dstream", options
    )
    # Tumbling windows: each record lies in exactly one window, so the windows sum to the totals.
    assert word_totals(rows) == Counter(f"d{i % 4}" for i in range(24))
    assert {r["window_end"] - r["window_start"] for r in rows} == {timedelta(seconds=1)}
    letters = stream_harness.dead_letters()
    assert {(d["partition"], d["offset"]) for d in letters} == positions(records, malformed)
    assert {d["reason"] for d in letters} == {NOT_JSON}


def read_topic(bootstrap: str, topic: str, enough: Callable[[list[Any]], bool], idle_s: float) -> list[Any]:
    """(key, JSON value) of the records of ``topic`` from the start, until ``enough`` holds or none
    arrives for ``idle_s`` seconds."""
    from kafka import KafkaConsumer

    idle_ms = int(idle_s * 1000)
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=idle_ms
    )
    try:
        out: list[Any] = []
        for record in consumer:  # stops after idle_s without a record
            out.append((record.key.decode() if record.key else None, json.loads(record.value)))
            if enough(out):
                break
        return out
    finally:
        consumer.close()


def topic_records(bootstrap: str, topic: str) -> list[Any]:
    """(key, JSON value) of every record ``topic`` holds now, to its true end offsets (sparkkit's
    probe sees the tail of a partition's last batch, which the broker's end offset leaves out;
    tests/integration/test_kafka_end_offsets.py checks that probe against what was produced)."""
    client = ClientConfig(bootstrap)
    begin, end = fetch_offsets(client, [topic])
    out: list[Any] = []
    for key, start in sorted(begin.items()):
        partition = int(key.rsplit(":", 1)[1])
        for batch in read_batches(client, topic, partition, start, end[key], True):
            out += [(k.decode() if k else None, json.loads(value or b"")) for k, value, *_ in batch]
    return out


def total_count(records: list[Any]) -> int:
    return sum(value["count"] for _, value in records)


@pytest.mark.parametrize("api", ["structured", "dstream"])
def test_wordcount_writes_to_a_kafka_sink(
    stream_harness: StreamHarness, kafka_bootstrap: str, api: str
) -> None:
    out_topic = topic_with(kafka_bootstrap, [], partitions=2)
    job = get_job("wordcount")
    cli = {
        "api": api, "source": ["generator://w?rate=50&keys=7&count=100&seed=3"], "batch_interval": "500ms",
        "sink": f"kafka://{kafka_bootstrap}/{out_topic}",
    }  # fmt: skip
    config = load_config(job.name, job.options, cli, env={}, conf_dir=stream_harness.workdir / "no-conf")
    job_run = Run(prepare(config), stream_harness.spark).start()
    try:
        written = read_topic(kafka_bootstrap, out_topic, lambda got: total_count(got) >= 100, idle_s=60)
    finally:
        job_run.stop()
    assert total_count(written) == 100  # the generator's 100 one-word records
    assert all(key == value["word"] for key, value in written)  # the record key is the word
    assert total_count(topic_records(kafka_bootstrap, out_topic)) == 100  # no more
