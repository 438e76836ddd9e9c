"""Talking to Kafka for the source and the sink: client settings, offsets, reading offset ranges.

Two clients: kafka-python (pure Python, always installed) and confluent-kafka (librdkafka,
the optional ``fast`` extra), which reads an order of magnitude faster. Sources pick with the
address option ``client=auto|confluent|kafka-python``; ``auto`` takes confluent-kafka when it
is installed. Options with the ``kafka.`` prefix are client settings: kafka-python's keyword
arguments (``kafka.security.protocol`` -> ``security_protocol``, converted to the type
kafka-python expects) or librdkafka's properties as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkkit.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

NATIVE_PROVIDER = "org.apache.spark.sql.kafka010.KafkaSourceProvider"
CLIENTS = ("auto", "confluent", "kafka-python")
#: One record as read: key, value, topic, partition, offset, timestamp (epoch ms), timestamp type
#: (0 CreateTime, 1 LogAppendTime, as in Spark's Kafka source).
Record = tuple[bytes | None, bytes | None, str, int, int, int, int]
BATCH = 20_000


def confluent_installed() -> bool:
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        return False
    return True


def _kafka_python_value(name: str, text: str) -> Any:
    """An option string as the type of kafka-python's default for it (``"false"`` -> False)."""
    from kafka import KafkaConsumer

    default = KafkaConsumer.DEFAULT_CONFIG.get(name)
    if isinstance(default, bool):
        return text.strip().lower() in ("true", "1", "yes")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    return text


def client_options(options: dict[str, str]) -> dict[str, Any]:
    """``kafka.security.protocol`` -> ``security_protocol``: the kafka-python keyword arguments."""
    prefix = len("kafka.")
    names = {k: k[prefix:].replace(".", "_") for k in options if k.startswith("kafka.")}
    return {name: _kafka_python_value(name, options[k]) for k, name in names.items()}


@dataclass(frozen=True)
class ClientConfig:
    """How to reach Kafka: bootstrap servers, the client to use, and the ``kafka.*`` settings."""

    bootstrap: str
    kind: str = "kafka-python"
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, bootstrap: str, params: dict[str, str]) -> ClientConfig:
        """From address options (any case); ``client`` chooses the client library."""
        lowered = {k.lower(): v for k, v in params.items()}
        kind = lowered.get("client", "auto")
        if kind not in CLIENTS:
            raise ConfigError("client", kind, "auto, confluent or kafka-python")
        if kind == "auto":
            kind = "confluent" if confluent_installed() else "kafka-python"
        elif kind == "confluent" and not confluent_installed():
            raise ConfigError(
                "client", kind, "kafka-python, or install confluent-kafka (pip install sparkkit[fast])"
            )
        return cls(bootstrap, kind, {k: v for k, v in params.items() if k.lower().startswith("kafka.")})

    def kafka_python(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap,
            "enable_auto_commit": False,
            **client_options(self.options),
        }

    def confluent(self) -> dict[str, Any]:
        settings = {k[len("kafka.") :]: v for k, v in self.options.items()}
        return {"bootstrap.servers": self.bootstrap, "group.id": "sparkkit", "enable.auto.commit": False,
                "enable.partition.eof": False, **settings}  # fmt: skip


def tp_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def fetch_offsets(client: ClientConfig, topics: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Beginning and end offsets of every partition of ``topics``, keyed ``topic:partition``."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**client.kafka_python())
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        begin = consumer.beginning_offsets(tps) if tps else {}
        end = consumer.end_offsets(tps) if tps else {}
    finally:
        consumer.close()
    return (
        {tp_key(tp.topic, tp.partition): int(o) for tp, o in begin.items()},
        {tp_key(tp.topic, tp.partition): int(o) for tp, o in end.items()},
    )


def _first_position(topic: str, partition: int, start: int, first: int, fail_on_data_loss: bool) -> int:
    """Where reading starts: ``start``, unless retention removed it (``failOnDataLoss``)."""
    if first <= start:
        return start
    if fail_on_data_loss:
        raise RuntimeError(
            f"{topic}:{partition} offsets {start}..{first - 1} were lost (retention?); "
            "set failOnDataLoss=false to skip them"
        )
    return first


def read_batches(
    client: ClientConfig, topic: str, partition: int, start: int, end: int, fail_on_data_loss: bool
) -> Iterator[list[Record]]:
    """The records of ``topic:partition`` from ``start`` to ``end`` (exclusive), in lists."""
    if client.kind == "confluent":
        return _read_confluent(client, topic, partition, start, end, fail_on_data_loss)
    return _read_kafka_python(client, topic, partition, start, end, fail_on_data_loss)


def _read_kafka_python(
    client: ClientConfig, topic: str, partition: int, start: int, end: int, fail_on_data_loss: bool
) -> Iterator[list[Record]]:
    from kafka import KafkaConsumer, TopicPartition

    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(**client.kafka_python())
    try:
        consumer.assign([tp])
        position = _first_position(
            topic, partition, start, consumer.beginning_offsets([tp])[tp], fail_on_data_loss
        )
        consumer.seek(tp, position)
        while position < end:
            batch = [
                (r.key, r.value, r.topic, r.partition, r.offset, r.timestamp, r.timestamp_type)
                for r in consumer.poll(timeout_ms=1000).get(tp, [])
                if r.offset < end
            ]
            if batch:
                position = batch[-1][4] + 1
                yield batch
    finally:
        consumer.close()


#: librdkafka timestamp types -> Spark's: 1 CreateTime -> 0, 2 LogAppendTime -> 1.
_CONFLUENT_TIMESTAMP_TYPES = {0: 0, 1: 0, 2: 1}


def _read_confluent(
    client: ClientConfig, topic: str, partition: int, start: int, end: int, fail_on_data_loss: bool
) -> Iterator[list[Record]]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(client.confluent())
    try:
        first, _ = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        position = _first_position(topic, partition, start, first, fail_on_data_loss)
        consumer.assign([TopicPartition(topic, partition, position)])
        types = _CONFLUENT_TIMESTAMP_TYPES
        while position < end:
            # Ask for no more than remain: consume() waits for its count or its timeout.
            batch = []
            for message in consumer.consume(num_messages=min(BATCH, end - position), timeout=1.0):
                if message.error():
                    raise RuntimeError(f"reading {topic}:{partition} failed: {message.error()}")
                offset = message.offset()
                if offset is None or offset >= end:
                    break
                kind, ms = message.timestamp()
                batch.append(
                    (message.key(), message.value(), topic, partition, offset, ms, types.get(kind, 0))
                )
            if batch:
                position = batch[-1][4] + 1
                yield batch
    finally:
        consumer.close()


def native_connector(spark: SparkSession) -> bool:
    """Is Spark's own Kafka connector (spark-sql-kafka-0-10) on the classpath?"""
    try:
        spark.sparkContext._jvm.java.lang.Class.forName(NATIVE_PROVIDER)  # type: ignore[union-attr]
        return True
    except Exception:
        return False
