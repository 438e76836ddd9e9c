"""Kafka topics for tests: create one with records already in it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence


def new_topic(bootstrap: str, partitions: int = 2, prefix: str = "t") -> str:
    """A new, empty topic of ``partitions`` partitions, named ``prefix`` and a random suffix."""
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"{prefix}{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    return topic


def topic_with(bootstrap: str, records: Sequence[str | bytes], partitions: int = 2) -> str:
    """A new topic of ``partitions`` partitions holding ``records``, spread round robin; its name.

    Each record is sent in its own request, so that every broker (tansu included, which reports
    only a batch's base offset as the latest) shows exact end offsets at once.
    """
    from kafka import KafkaProducer

    topic = new_topic(bootstrap, partitions)
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for i, record in enumerate(records):
            value = record.encode() if isinstance(record, str) else record
            producer.send(topic, value=value, partition=i % partitions)
            producer.flush()
    finally:
        producer.close()
    return topic
