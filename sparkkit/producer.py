"""``sparkkit produce kafka://HOSTS/TOPIC``: send lines to Kafka for demos, tests and benchmarks.

Records come from a file (one per line), from a ``generator://`` address (the same records the
generator source makes), or from standard input; ``--rate`` paces them, ``--count`` stops after
that many. The address's ``client=``, ``brokerTimeout=`` and ``kafka.*`` options are those of a
Kafka sink (a broker that stops answering is waited for up to ``brokerTimeout``).

Records go round robin over the topic's partitions in the client's batches, and every offset
stays exact for any reader: the embedded broker (tansu) answers ListOffsets with the first
offset of a partition's last batch + 1, so the last record of each partition is held back and
sent alone once the batches before it are delivered — at the end, and whenever a paced producer
is about to wait. ``--flush-every N`` sends N records per request instead (1: one at a time).
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from sparkkit.addresses import Address, parse_source
from sparkkit.errors import ConfigError, KafkaError
from sparkkit.kafka_client import Sender, checked_client, topic_partitions
from sparkkit.net import any_answers
from sparkkit.sources.generator import GeneratorSource, generator_key


def records_from(spec: str | None) -> Iterator[str]:
    """Lines of a file, records of a ``generator://`` address, or standard input (``-`` or none)."""
    if spec is None or spec == "-":
        return (line.rstrip("\n") for line in sys.stdin)
    if spec.startswith("generator://"):
        source = GeneratorSource(parse_source(spec, "--from"))
        source.check()
        name, seed, keys = source.stream_name, source.seed, source.keys
        numbers = range(source.count) if source.count is not None else itertools.count()
        return (f"{name}-{generator_key(i, seed, keys)}" for i in numbers)
    path = Path(spec)
    if not path.is_file():
        raise ConfigError("--from", spec, "a file, a generator:// address or - for standard input")
    return (line.rstrip("\n") for line in path.open(encoding="utf-8"))


#: A paced producer waits only when it is this far ahead of its rate (s): between two waits its
#: records go in batches.
PAUSE_S = 0.01


class _Batches:
    """Sends records round robin over ``partitions`` partitions, holding back each partition's
    latest record; :meth:`seal` delivers every batch, then each held record alone."""

    def __init__(self, sender: Sender, topic: str, partitions: int) -> None:
        self.sender, self.topic, self.partitions = sender, topic, partitions
        self.held: dict[int, bytes] = {}
        self.count = 0

    def send(self, value: bytes) -> None:
        partition = self.count % self.partitions
        self.count += 1
        if partition in self.held:
            self.sender.send(self.topic, self.held[partition], partition=partition)
        self.held[partition] = value

    def seal(self) -> None:
        self.sender.flush()
        for partition, value in sorted(self.held.items()):
            self.sender.send(self.topic, value, partition=partition)
        self.held.clear()
        self.sender.flush()


def produce(
    address: Address, records: Iterable[str], rate: float | None = None, count: int | None = None,
    flush_every: int | None = None,
) -> int:  # fmt: skip
    """Send ``records`` to the address's topic; the number sent.

    The address's options choose the client (``client=``) and its settings (``kafka.*``, as
    for a source or sink); the broker is asked for the topic with them before anything is sent.
    Records are batched (see the module's note) unless ``flush_every`` says how many go per request.
    """
    bootstrap = address.netloc
    client = checked_client(bootstrap, address, "ADDRESS")
    if not any_answers(address.hosts):
        raise KafkaError(f"cannot reach Kafka at {bootstrap}: no broker accepts connections there")
    partitions = topic_partitions(client, [address.path]).get(address.path, 0)
    if not partitions:  # created by its first record: nothing to spread over yet
        flush_every = flush_every or 1
    sender = Sender(client)  # a broker that stops answering is waited for up to brokerTimeout
    batches = _Batches(sender, address.path, partitions) if flush_every is None else None
    started, sent = time.monotonic(), 0
    try:
        for record in itertools.islice(records, count):
            if batches is not None:
                batches.send(record.encode("utf-8"))
            else:
                sender.send(address.path, record.encode("utf-8"))
            sent += 1
            if flush_every and sent % flush_every == 0:
                sender.flush()
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > (0 if batches is None else PAUSE_S):
                    if batches is not None:
                        batches.seal()  # what was sent is readable while the producer waits
                    time.sleep(ahead)
        if batches is not None:
            batches.seal()
        sender.flush()
    except KafkaError as exc:
        raise type(exc)(f"sending to {address.location} failed after {sent} records: {exc}") from None
    except KeyboardInterrupt:
        if batches is not None:
            batches.seal()  # every record counted as sent is delivered
        raise
    finally:
        sender.close()
    return sent
