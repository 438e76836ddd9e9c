"""Sources named by address strings, each usable as a DStream and as a streaming DataFrame."""

from __future__ import annotations

from sparkkit.addresses import Address, implementation, parse_source
from sparkkit.sources.base import Source, SourceContext
from sparkkit.sources.files import FileSource
from sparkkit.sources.generator import (
    GeneratorSource,
    generator_key,
    generator_lines,
    generator_records,
    generator_value,
)
from sparkkit.sources.kafka import KafkaSource
from sparkkit.sources.socket import SocketSource

_SOURCES: dict[str, type[Source]] = {
    cls.scheme: cls for cls in (SocketSource, FileSource, GeneratorSource, KafkaSource)
}


def source_for(address: Address | str) -> Source:
    """The source for an address; raises :class:`AddressError` for schemes not available yet."""
    if isinstance(address, str):
        address = parse_source(address)
    return implementation(_SOURCES, address, "--source", "sources")(address)


__all__ = [
    "FileSource",
    "GeneratorSource",
    "SocketSource",
    "Source",
    "SourceContext",
    "generator_key",
    "generator_lines",
    "generator_records",
    "generator_value",
    "source_for",
]
