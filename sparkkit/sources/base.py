"""The source contract: one object per address that yields a DStream and a streaming DataFrame."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sparkkit.addresses import Address
from sparkkit.duration import Duration

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.streaming import DStream, StreamingContext


@dataclass(frozen=True)
class SourceContext:
    """What a source needs from the job around it.

    ``state_dir`` holds the source's own recovery log (inside the checkpoint when there is one);
    ``batch_interval`` is the DStream batch interval.
    """

    state_dir: Path
    batch_interval: Duration


class Source(ABC):
    """A stream named by an address. Text sources yield lines: ``str`` elements in a DStream,
    a ``value`` string column in Structured Streaming."""

    scheme: ClassVar[str]

    def __init__(self, address: Address) -> None:
        self.address = address

    @property
    def name(self) -> str:
        """A name for this source's recovery log, unique within a job."""
        digest = hashlib.sha1(self.address.raw.encode()).hexdigest()[:10]
        return f"{self.address.scheme}-{digest}"

    @property
    def record_format(self) -> str:
        """``text`` for lines; ``json``/``csv`` for parsed records."""
        return "text"

    @property
    def always_new_data(self) -> bool:
        """Does every Structured trigger find new input (a rate source does, even past ``count``)?
        Then ``processAllAvailable`` never returns: wait for batches instead."""
        return False

    @property
    def dead_letters(self) -> bool:
        """Can this source mark unreadable records as dead letters (:mod:`sparkkit.deadletters`)?"""
        return False

    def check(self) -> None:  # noqa: B027 - optional hook
        """Validate what can be validated before Spark starts; raise ConfigError."""

    @abstractmethod
    def dstream(self, ssc: StreamingContext, ctx: SourceContext) -> DStream[Any]:
        """The source as a DStream."""

    @abstractmethod
    def structured(self, spark: SparkSession, ctx: SourceContext) -> DataFrame:
        """The source as a streaming DataFrame."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address.raw!r})"
