"""SASL/SCRAM for tests: the login as address options and as librdkafka settings, topics, reads.

The tansu shipped with sparkkit (0.6.0) cannot let a SCRAM user in (its storage keeps no users;
see ``tests/scram_proxy.py``), so an authenticating front — a real SCRAM server exchange,
Apache Kafka's error 58 for a wrong password — sits before a plain tansu
(:func:`start_scram_broker`, the ``scram_bootstrap`` fixture of tests/integration/conftest.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sparkkit import net
from sparkkit.broker import tansu_binary
from sparkkit.testing.plugin import free_port
from tests.processes import ROOT, driver_env

USER, PASSWORD = "spark-user", "pw-7dQ2-scram"
WRONG = "not-the-pw-4Kx9"


def sasl_query(password: str = PASSWORD, mechanism: str = "SCRAM-SHA-256") -> str:
    """The address options of a SCRAM login, named as Spark's Kafka connector names them."""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{USER}" password="{password}";'
    )
    return (
        f"kafka.security.protocol=SASL_PLAINTEXT&kafka.sasl.mechanism={mechanism}"
        f"&kafka.sasl.jaas.config={quote(jaas, safe='')}"
    )


def librdkafka_login(bootstrap: str) -> dict[str, Any]:
    """The same login in librdkafka's own terms, for the test's own producer and consumer."""
    return {
        "bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": USER, "sasl.password": PASSWORD,
    }  # fmt: skip


def start(command: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT, env=driver_env(**env)
    )


def wait_for_port(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    assert net.wait_for_port("127.0.0.1", port, 30, lambda: proc.poll() is None), log.read_text()


def new_topic(bootstrap: str, partitions: int = 2) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"s{uuid.uuid4().hex[:8]}"
    admin = AdminClient(librdkafka_login(bootstrap))
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=30)
    return topic


def fill(bootstrap: str, topic: str, lines: list[str]) -> None:
    """``lines`` into ``topic`` round robin, batched by librdkafka (linger.ms=50)."""
    from confluent_kafka import Producer

    producer = Producer({**librdkafka_login(bootstrap), "linger.ms": 50})
    for i, line in enumerate(lines):
        producer.produce(topic, value=line.encode(), partition=i % 2)
    assert producer.flush(30) == 0


def read_all(bootstrap: str, topic: str) -> list[tuple[str | None, str]]:
    """(key, value) of every record ``topic`` holds now, read with SASL."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**librdkafka_login(bootstrap), "group.id": "t", "enable.partition.eof": True})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        records: list[tuple[str | None, str]] = []
        done: set[int] = set()
        deadline = time.monotonic() + 30
        while len(done) < len(partitions) and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=1):
                if message.error():
                    done.add(message.partition() or 0)  # end of a partition (the only error expected)
                    continue
                key, value = message.key(), message.value() or b""
                records.append((key.decode() if key else None, value.decode()))
        assert len(done) == len(partitions), "the topic was not read to its end"
        return records
    finally:
        consumer.close()


def word_totals(records: list[tuple[str | None, str]]) -> Counter[str]:
    import json

    totals: Counter[str] = Counter()
    for key, value in records:
        row = json.loads(value)
        assert key == row["word"]
        totals[row["word"]] += row["count"]
    return totals


@contextmanager
def start_scram_broker(logs: Path) -> Iterator[str]:
    """A plain tansu behind the SCRAM front (user USER, password PASSWORD); the front's address."""
    backend, front = free_port(), free_port()
    broker = start(
        [str(tansu_binary()), "broker", "--listener-url", f"tcp://127.0.0.1:{backend}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{front}", "--storage-engine", "memory://tansu/"],
        logs / "tansu.log",
    )  # fmt: skip
    proxy = start(
        [sys.executable, "-m", "tests.scram_proxy", str(front), str(backend)], logs / "proxy.log",
        SCRAM_USERS=f"{USER}:{PASSWORD}",
    )  # fmt: skip
    try:
        wait_for_port(broker, backend, logs / "tansu.log")
        wait_for_port(proxy, front, logs / "proxy.log")
        yield f"127.0.0.1:{front}"
    finally:
        for proc in (proxy, broker):
            proc.terminate()
            proc.wait(timeout=30)
