"""The embedded Kafka-compatible broker: `sparkkit kafka up|status|down`, and a real round trip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from sparkkit.daemons import cmdline_has
from sparkkit.sources import generator_lines
from sparkkit.testing import new_topic
from sparkkit.testing.plugin import free_port
from tests.processes import driver_env


def sparkkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *args],
        capture_output=True,
        text=True,
        env=driver_env(),
        timeout=120,
    )


def test_up_is_idempotent_and_down_leaves_nothing(tmp_path: Path) -> None:
    port, state = free_port(), str(tmp_path / "state")
    first = sparkkit("kafka", "up", "--state-dir", state, "--port", str(port))
    assert first.returncode == 0, first.stderr
    assert f"started: bootstrap 127.0.0.1:{port}" in first.stdout
    pid = int(first.stdout.split("(pid ")[1].split(",")[0])
    again = sparkkit("kafka", "up", "--state-dir", state, "--port", str(port))
    assert again.returncode == 0 and "already running" in again.stdout and f"pid {pid}," in again.stdout
    assert sparkkit("kafka", "status", "--state-dir", state).returncode == 0
    down = sparkkit("kafka", "down", "--state-dir", state)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not cmdline_has(pid, b"tansu")
    assert sparkkit("kafka", "status", "--state-dir", state).returncode == 3
    assert "was not running" in sparkkit("kafka", "down", "--state-dir", state).stdout


def test_a_taken_port_is_a_clear_error(tmp_path: Path, kafka_bootstrap: str) -> None:
    port = kafka_bootstrap.rsplit(":", 1)[1]
    result = sparkkit("kafka", "up", "--state-dir", str(tmp_path), "--port", port)
    assert result.returncode == 2  # a configuration problem, as for `sparkkit cluster up`
    assert f"sparkkit: error: --port={port}: port 127.0.0.1:{port} is already taken" in result.stderr
    assert "Traceback" not in result.stderr


def test_records_round_trip(kafka_bootstrap: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic("roundtrip", num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(6):
        producer.send("roundtrip", value=f"v{i}".encode(), partition=i % 2)
        producer.flush()  # one record per request: exact latest offsets on tansu
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, consumer_timeout_ms=10_000)
    partitions = [TopicPartition("roundtrip", p) for p in (0, 1)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    values = sorted(record.value.decode() for _, record in zip(range(6), consumer, strict=False))
    consumer.close()
    assert values == [f"v{i}" for i in range(6)]


def read_all(bootstrap: str, topic: str, expected: int) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=10_000)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or {0}]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    values = [record.value.decode() for _, record in zip(range(expected), consumer, strict=False)]
    consumer.close()
    return values


def test_produce_from_a_generator_and_a_file(kafka_bootstrap: str, tmp_path: Path) -> None:
    result = sparkkit("produce", f"kafka://{kafka_bootstrap}/gen", "--from", "generator://g?keys=3&seed=2",
                      "--count", "25", "--rate", "500")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sent 25 records" in result.stdout
    assert sorted(read_all(kafka_bootstrap, "gen", 25)) == sorted(generator_lines("g", 0, 25, 2, 3))
    lines = tmp_path / "lines.txt"
    lines.write_text("one\ntwo words\n")
    assert sparkkit("produce", f"kafka://{kafka_bootstrap}/fromfile", "--from", str(lines)).returncode == 0
    assert sorted(read_all(kafka_bootstrap, "fromfile", 2)) == ["one", "two words"]


def list_offsets(bootstrap: str, topic: str, partitions: int) -> list[int]:
    """Each partition's end as ListOffsets(latest) answers it: what readers other than sparkkit's
    plan on (tansu counts only up to the first record of a partition's last batch there)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return [ends[TopicPartition(topic, p)] for p in range(partitions)]
    finally:
        consumer.close()


def test_produce_batches_and_every_end_offset_stays_exact(kafka_bootstrap: str, tmp_path: Path) -> None:
    """By default records go round robin in the client's batches, each partition's last one
    alone: ListOffsets shows every record, flat out, paced (sealed at each wait) and per request."""
    lines = tmp_path / "lines.txt"
    records = [f"line {i}" for i in range(3001)]
    lines.write_text("".join(f"{r}\n" for r in records))
    for client in ("confluent", "kafka-python"):
        for extra in ([], ["--rate", "3000"], ["--flush-every", "1", "--count", "300"]):
            topic = new_topic(kafka_bootstrap, 3, prefix="produced-")
            address = f"kafka://{kafka_bootstrap}/{topic}?client={client}"
            result = sparkkit("produce", address, "--from", str(lines), *extra)
            assert result.returncode == 0, result.stderr
            sent = records[: 300 if "--count" in extra else None]
            assert f"sent {len(sent)} records" in result.stdout
            ends = list_offsets(kafka_bootstrap, topic, 3)
            if "--flush-every" not in extra:  # round robin
                assert ends == [len(sent[p::3]) for p in range(3)], (client, extra)
            assert sum(ends) == len(sent), (client, extra)
            assert sorted(read_all(kafka_bootstrap, topic, len(sent))) == sorted(sent)


def test_produce_to_an_unreachable_broker_fails_fast_naming_it() -> None:
    port = free_port()
    result = sparkkit("produce", f"kafka://127.0.0.1:{port}/t", "--count", "1", "--from", "generator://g")
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
