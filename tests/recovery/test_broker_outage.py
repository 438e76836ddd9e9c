"""A Kafka broker that stops answering: jobs ride out an outage shorter than ``brokerTimeout``,
and fail in one line after a longer one, then restart exactly on their checkpoint; a broker
stopped and started again with its records (tansu's s3:// storage) is ridden out too.

The outage is the embedded broker (tansu) frozen with SIGSTOP: its port still accepts
connections (the kernel completes them), but nothing answers, which is what a hung or
overloaded broker looks like to a client and the hardest case for one (no error, only
silence). Its length is the fault itself, so it is timed; everything else waits on the
driver's output (or, for the clients alone, on their threads). Expected totals are counted in
plain Python from the records the test sent.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkkit import kafka_client
from sparkkit.broker import EmbeddedBroker
from sparkkit.errors import BrokerTimeoutError
from sparkkit.kafka_client import ClientConfig, Record, Sender, fetch_offsets, read_batches
from sparkkit.testing import new_topic, topic_with
from sparkkit.testing.plugin import free_port
from tests.processes import batch_interval, json_word_totals, start_driver, stop_gracefully, wait_until
from tests.s3_storage import S3Storage

pytestmark = pytest.mark.slow

#: An outage longer than either client's own timeouts (librdkafka's 10 s metadata wait,
#: kafka-python's 30 s requests), well within the default brokerTimeout (2m).
LONG_OUTAGE_S = 45.0
#: An outage longer than one attempt of a request (10 s): enough for a retry and its report.
SHORT_OUTAGE_S = 15.0
WAITING = re.compile(r"waiting for broker (\S+): no answer for \d+s \(brokerTimeout (\w+)\)")


def outlast(since: float, seconds: float) -> None:
    """Let a fault that began at ``since`` (``time.monotonic``) last ``seconds``: its length is what
    the test is about, and nothing the job does can end it, so this is the one sleep here (the
    waits before and after it are on the job's own output)."""
    time.sleep(max(0.0, since + seconds - time.monotonic()))


class Broker:
    """A tansu of the test's own, which the test can freeze (SIGSTOP) and thaw (SIGCONT)."""

    def __init__(self, state: Path) -> None:
        self.embedded = EmbeddedBroker(state)
        status = self.embedded.up(free_port())
        assert status.bootstrap is not None and status.pid is not None
        self.bootstrap, self.pid = status.bootstrap, status.pid
        self.paused_at: float | None = None

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.paused_at = time.monotonic()

    def resume_after(self, seconds: float) -> None:
        """Thaw the broker once it has been frozen for ``seconds``."""
        assert self.paused_at is not None
        outlast(self.paused_at, seconds)
        self.resume()

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        self.paused_at = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    frozen = Broker(tmp_path / "kafka")
    try:
        yield frozen
    finally:
        frozen.resume()
        frozen.embedded.down()


class Feed:
    """Lines sent to a topic (round robin over 2 partitions), and the words they hold."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaProducer

        self.topic = new_topic(bootstrap, prefix="o")
        self.producer = KafkaProducer(bootstrap_servers=bootstrap)
        self.expected: Counter[str] = Counter()
        self.sent = 0

    def send(self, count: int) -> None:
        for i in range(self.sent, self.sent + count):
            line = f"k{i % 3} w{i % 7} common"
            self.producer.send(self.topic, value=line.encode(), partition=i % 2)
            self.expected.update(line.split())
        self.producer.flush()
        self.sent += count

    def close(self) -> None:
        self.producer.close()


def topic_rows(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic`` as JSON, read to each partition's high watermark."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        rows: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                rows += [json.loads(r.value) for r in records]
            marks = [consumer.highwater(tp) for tp in tps]
            if all(m is not None and consumer.position(tp) >= m for tp, m in zip(tps, marks, strict=True)):
                return rows
        raise AssertionError(f"could not read {topic} to its end")
    finally:
        consumer.close()


def deduplicated_totals(rows: list[dict[str, Any]]) -> Counter[str]:
    """Word totals of an at-least-once sink's rows: a (batch_time, word) sent twice counts once
    (and must be the same row both times)."""
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["batch_time"], row["word"])
        assert seen.setdefault(key, row["count"]) == row["count"], f"two different rows for {key}"
    totals: Counter[str] = Counter()
    for (_, word), count in seen.items():
        totals[word] += count
    return totals


def waits_reported(log: Path, bootstrap: str, limit: str) -> bool:
    return any(
        match.groups() == (bootstrap, limit) for match in WAITING.finditer(log.read_text(errors="replace"))
    )


def wordcount(api: str, source: str, sink: str, ck: Path) -> list[str]:
    return ["run", "wordcount", "--api", api, "--source", source, "--sink", sink,
            "--checkpoint", str(ck), "--batch-interval", batch_interval(api), "--duration", "0"]  # fmt: skip


def test_structured_wordcount_rides_out_a_45s_outage(tmp_path: Path, broker: Broker) -> None:
    """Kafka (confluent-kafka) -> json: every record counted once across a 45 s outage."""
    feed = Feed(broker.bootstrap)
    out, log = tmp_path / "out", tmp_path / "driver.log"
    source = f"kafka://{broker.bootstrap}/{feed.topic}?startingOffsets=earliest&maxOffsetsPerTrigger=40"
    driver = start_driver(wordcount("structured", source, f"json://{out}", tmp_path / "ck"), log)
    try:
        feed.send(400)  # ten batches of 40 at least: the outage comes while they run
        wait_until(lambda: bool(json_word_totals(out)), 180, "the first batch", log)
        broker.pause()
        wait_until(lambda: waits_reported(log, broker.bootstrap, "2m"), 60, "a wait reported", log)
        broker.resume_after(LONG_OUTAGE_S)
        feed.send(100)
        wait_until(lambda: json_word_totals(out) == feed.expected, 300, f"totals {feed.expected}", log)
        assert stop_gracefully(driver) == 0, log.read_text()[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
        feed.close()
    assert json_word_totals(out) == feed.expected


def test_dstream_wordcount_to_kafka_rides_out_a_15s_outage(tmp_path: Path, broker: Broker) -> None:
    """Kafka (kafka-python) -> Kafka (confluent-kafka): every record counted once across a 15 s
    outage, in the rows of the at-least-once sink (a row sent twice is the same row).

    15 s, not 45: what makes an outage long for sparkkit is that it outlasts one attempt (10 s),
    so that the wait is retried and reported; the 45 s one (past the clients' own 30 s) is the
    Structured test's, and both APIs plan and read through the same calls."""
    feed = Feed(broker.bootstrap)
    output = new_topic(broker.bootstrap, prefix="o")
    log = tmp_path / "driver.log"
    source = f"kafka://{broker.bootstrap}/{feed.topic}?startingOffsets=earliest&maxRatePerPartition=20&client=kafka-python"
    sink = f"kafka://{broker.bootstrap}/{output}?client=confluent"
    driver = start_driver(wordcount("dstream", source, sink, tmp_path / "ck"), log)

    def totals() -> Counter[str]:
        return deduplicated_totals(topic_rows(broker.bootstrap, output))

    try:
        feed.send(400)  # 20 a second per partition: ten batches at least
        wait_until(lambda: "rows -> kafka://" in log.read_text(errors="replace"), 180, "the first batch", log)
        broker.pause()
        wait_until(lambda: waits_reported(log, broker.bootstrap, "2m"), 60, "a wait reported", log)
        broker.resume_after(SHORT_OUTAGE_S)
        feed.send(100)
        wait_until(lambda: totals() == feed.expected, 300, f"totals {feed.expected}", log)
        assert stop_gracefully(driver) == 0, log.read_text()[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
        feed.close()
    assert totals() == feed.expected


@pytest.mark.parametrize("api", ["structured", "dstream"])
def test_an_outage_longer_than_broker_timeout_fails_in_one_line_and_restarts_exactly(
    tmp_path: Path, broker: Broker, api: str
) -> None:
    feed = Feed(broker.bootstrap)
    out, ck, log = tmp_path / "out", tmp_path / "ck", tmp_path / "driver.log"
    client = "confluent" if api == "structured" else "kafka-python"
    source = (
        f"kafka://{broker.bootstrap}/{feed.topic}?startingOffsets=earliest&brokerTimeout=8s&client={client}"
    )
    args = wordcount(api, source, f"json://{out}", ck)
    first = start_driver(args, log)
    try:
        feed.send(100)
        wait_until(lambda: bool(json_word_totals(out)), 180, "the first batch", log)
        broker.pause()
        code = first.wait(timeout=120)
        failed_after = time.monotonic() - (broker.paused_at or 0)
        broker.resume_after(20.0)
    finally:
        if first.poll() is None:
            first.kill()
    text = log.read_text(errors="replace")
    errors = [line for line in text.splitlines() if line.startswith("sparkkit: error:")]
    assert code == 1, text[-3000:]
    assert len(errors) == 1, text[-3000:]
    assert f"Kafka broker {broker.bootstrap} did not answer for 8s (brokerTimeout)" in errors[0], errors
    assert 8 <= failed_after < 60, failed_after
    assert waits_reported(log, broker.bootstrap, "8s")

    second = start_driver(args, log)  # the broker answers again: on the same checkpoint
    try:
        feed.send(50)
        wait_until(lambda: json_word_totals(out) == feed.expected, 240, f"totals {feed.expected}", log)
        assert stop_gracefully(second) == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
        feed.close()
    assert json_word_totals(out) == feed.expected


# -- the clients themselves, without Spark: each wait, and each failure ------------------------


class Reports:
    """The "waiting for broker" reports made in this process."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __enter__(self) -> Reports:
        kafka_client.wait_listeners.append(self.texts.append)
        return self

    def __exit__(self, *exc: object) -> None:
        kafka_client.wait_listeners.remove(self.texts.append)

    def about(self, doing: str) -> list[str]:
        return [text for text in self.texts if text.endswith(f"while {doing}")]


class Attempts:
    """Calls run on threads of their own: each one's result or error, and how long it took."""

    def __init__(self) -> None:
        self.results: dict[str, tuple[Any, float]] = {}
        self.threads: list[threading.Thread] = []

    def start(self, name: str, call: Callable[[], Any]) -> None:
        def run() -> None:
            started = time.monotonic()
            try:
                result: Any = call()
            except Exception as exc:
                result = exc
            self.results[name] = (result, time.monotonic() - started)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self, timeout: float) -> dict[str, tuple[Any, float]]:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), f"still waiting: {self.threads}"
        return self.results


def values_of(batches: Iterable[list[Record]]) -> list[tuple[int, int, bytes | None]]:
    return [(partition, offset, value) for batch in batches for _, value, _, partition, offset, _, _ in batch]


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_offsets_reads_and_deliveries_wait_out_an_outage(broker: Broker, client: str) -> None:
    """A 15 s outage (longer than one attempt, 10 s) hits a read half done, a read and an offsets
    request begun during it, and a delivery: each goes on when the broker answers, every record
    read once, every one sent delivered; each wait was reported."""
    from kafka import KafkaProducer

    lines = [f"r{i}".encode() for i in range(10)]
    topic = topic_with(broker.bootstrap, lines[:6])  # three records in each partition
    output = new_topic(broker.bootstrap, prefix="o")
    config = ClientConfig.from_params(broker.bootstrap, {"client": client})
    attempts = Attempts()
    first_read, frozen = threading.Event(), threading.Event()

    def half_done_read() -> list[tuple[int, int, bytes | None]]:
        batches = read_batches(config, topic, 0, 0, 5, True)  # offsets 3 and 4 come after the outage
        head = next(batches)
        first_read.set()
        return values_of([head, *batches])

    def send() -> int:
        sender = Sender(config)  # connected before the outage: the records wait in its queue
        frozen.wait(30)
        for i in range(5):
            sender.send(output, f"s{i}".encode())
        sender.flush()
        sender.close()
        return sender.delivered

    with Reports() as reports:
        attempts.start("half done", half_done_read)
        attempts.start("send", send)
        assert first_read.wait(60)
        broker.pause()
        frozen.set()
        attempts.start("read", lambda: values_of(read_batches(config, topic, 1, 0, 3, True)))
        attempts.start("offsets", lambda: fetch_offsets(config, [topic]))
        broker.resume_after(15.0)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
        for i in range(6, 10):
            producer.send(topic, value=lines[i], partition=i % 2)
            producer.flush()
        producer.close()
        results = attempts.join(120)
    assert results["half done"][0] == [(0, i // 2, lines[i]) for i in range(0, 10, 2)]
    assert results["read"][0] == [(1, i // 2, lines[i]) for i in range(1, 6, 2)]
    assert results["send"][0] == 5
    begin, end = results["offsets"][0]
    assert begin == {f"{topic}:0": 0, f"{topic}:1": 0}, begin
    assert all(3 <= end[f"{topic}:{p}"] <= 5 for p in (0, 1)), end
    assert all(seconds >= 14 for name, (_, seconds) in results.items() if name != "half done"), results
    _, now = fetch_offsets(config, [output])
    delivered = {
        v
        for p in (0, 1)
        for _, _, v in values_of(read_batches(config, output, p, 0, now[f"{output}:{p}"], True))
    }
    assert delivered == {f"s{i}".encode() for i in range(5)}  # at least once
    assert reports.about(f"reading {topic}:0") and reports.about(f"reading {topic}:1"), reports.texts
    assert reports.about(f"reading the offsets of {topic}"), reports.texts
    assert reports.about(f"delivering 5 records to {output}"), reports.texts
    assert all(f"waiting for broker {broker.bootstrap}: no answer for " in t for t in reports.texts)


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_offsets_reads_and_deliveries_fail_in_one_line_after_broker_timeout(
    broker: Broker, client: str
) -> None:
    topic = topic_with(broker.bootstrap, [b"a", b"b"])
    config = ClientConfig.from_params(broker.bootstrap, {"client": client, "brokerTimeout": "3s"})
    attempts = Attempts()
    sender = Sender(config)
    broker.pause()
    attempts.start("read", lambda: values_of(read_batches(config, topic, 0, 0, 1, True)))
    attempts.start("offsets", lambda: fetch_offsets(config, [topic]))

    def send() -> None:
        sender.send(topic, b"c")
        sender.flush()

    attempts.start("send", send)
    results = attempts.join(60)
    broker.resume()
    sender.close()
    doing = {"read": f"reading {topic}:0", "offsets": f"reading the offsets of {topic}",
             "send": f"delivering 1 records to {topic}"}  # fmt: skip
    for name, (error, seconds) in results.items():
        assert isinstance(error, BrokerTimeoutError), (name, error)
        text = str(error)
        assert "\n" not in text
        assert text.startswith(
            f"Kafka broker {broker.bootstrap} did not answer for 3s (brokerTimeout) while "
        )
        assert f"while {doing[name]} (client {client}: " in text, text
        early = 0.01 if (client, name) == ("kafka-python", "send") else 0.0  # its timer: 2999 ms
        assert 3 - early <= seconds < 10, (name, seconds)


# -- a broker stopped and started again, its records kept (tansu's s3:// storage) --------------


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Storage]:
    storage = S3Storage(tmp_path / "s3.log")
    try:
        yield storage
    finally:
        storage.stop()


@pytest.mark.parametrize(("api", "client"), [("structured", "confluent"), ("dstream", "kafka-python")])
def test_wordcount_rides_out_a_broker_restart(tmp_path: Path, s3: S3Storage, api: str, client: str) -> None:
    """The broker stopped (SIGTERM) mid-stream and started again 25 s later on the same port,
    with its records and offsets in S3: the job goes on, every record counted once."""
    embedded, port = EmbeddedBroker(tmp_path / "kafka"), free_port()

    def start_broker() -> str:
        status = embedded.up(port, storage=s3.storage, env=s3.env())
        assert status.bootstrap is not None
        return status.bootstrap

    bootstrap = start_broker()
    feed = Feed(bootstrap)
    out, log = tmp_path / "out", tmp_path / "driver.log"
    limit = "maxOffsetsPerTrigger=40" if api == "structured" else "maxRatePerPartition=20"
    source = f"kafka://{bootstrap}/{feed.topic}?startingOffsets=earliest&{limit}&client={client}"
    driver = start_driver(wordcount(api, source, f"json://{out}", tmp_path / "ck"), log)
    try:
        feed.send(400)
        wait_until(lambda: bool(json_word_totals(out)), 180, "the first batch", log)
        stopped = time.monotonic()
        assert embedded.down()
        wait_until(lambda: waits_reported(log, bootstrap, "2m"), 60, "a wait reported", log)
        outlast(stopped, 25)
        assert start_broker() == bootstrap
        feed.send(100)
        wait_until(lambda: json_word_totals(out) == feed.expected, 300, f"totals {feed.expected}", log)
        assert stop_gracefully(driver) == 0, log.read_text()[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
        feed.close()
        embedded.down()
    assert json_word_totals(out) == feed.expected
