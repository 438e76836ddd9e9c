"""The sink contract: ``write(df, batch)`` once per batch, and the delivery guarantee it gives.

Every sink declares its :class:`Delivery` as a type, not as prose: code that needs a guarantee
(the stream processor's archive, the output line of a run) asks the sink for it.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from sparkkit.addresses import Address
from sparkkit.errors import ConfigError

#: How timestamps are written as JSON: milliseconds and the zone, so they read back exactly.
JSON_TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"


def quoted(name: str) -> str:
    """A column name as Spark reads it literally, whatever it holds (``count(1)``, dots)."""
    return "`" + name.replace("`", "``") + "`"


_OPTION_CHECKS = {
    "a whole number >= 1": lambda v: v.isascii() and v.isdigit() and int(v) >= 1,
    "true or false": lambda v: v.lower() in ("true", "false"),
}

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class BatchInfo:
    """One batch: its time, and for Structured Streaming its id.

    ``key`` identifies the batch across a re-run after a crash: the run id (kept in the
    checkpoint manifest, new for a run without one) and the batch id in Structured Streaming or
    the batch time in DStreams; two runs writing into one directory never replace each other.
    """

    time: datetime
    batch_id: int | None = None
    run_id: str = ""

    @property
    def time_ms(self) -> int:
        return round(self.time.timestamp() * 1000)

    @property
    def label(self) -> str:
        """The batch within its run: ``id-N`` or ``t-MS``."""
        return f"id-{self.batch_id:012d}" if self.batch_id is not None else f"t-{self.time_ms:015d}"

    @property
    def key(self) -> str:
        return f"{self.run_id}-{self.label}" if self.run_id else self.label


class Delivery(enum.Enum):
    """What a reader of a sink sees of a batch that ran twice (after a crash) or ran at all."""

    #: Each batch is visible whole or not at all, and a re-run batch replaces itself: the files.
    EXACTLY_ONCE = "exactly once"
    #: Each batch arrives; a re-run batch arrives again (Kafka, the console).
    AT_LEAST_ONCE = "at least once"
    #: The last batches only, replaced as new ones come, lost with the process (memory).
    BOUNDED_REPLACE = "bounded replace"


class Sink(ABC):
    """Where a job's output rows go."""

    scheme: ClassVar[str]
    delivery: ClassVar[Delivery]
    #: Print a progress line per batch (sinks whose output the user does not see directly).
    reports_progress: ClassVar[bool] = False
    #: ``write`` returns the number of rows it wrote, counted as it wrote them: the batch writer
    #: then reads a batch once, instead of counting it before writing it.
    counts_rows: ClassVar[bool] = False

    def __init__(self, address: Address) -> None:
        self.address = address

    #: Address options the sink understands, with what each accepts.
    options: ClassVar[dict[str, str]] = {}

    def check(self) -> None:
        """Validate the address options before Spark starts; raise ConfigError."""
        for name, value in self.address.params.items():
            if name not in self.options:
                accepted = ", ".join(self.options) or "none"
                raise ConfigError(
                    "--sink", self.address.raw, f"unknown option {name!r}; accepted: {accepted}"
                )
            if not _OPTION_CHECKS[self.options[name]](value):
                raise ConfigError("--sink", self.address.raw, f"{name} must be {self.options[name]}")

    def check_columns(self, columns: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Validate the options that name output columns, before Spark starts; raise ConfigError."""

    def open(self) -> None:  # noqa: B027 - optional hook
        """Called once when a run starts, before the first batch."""

    @abstractmethod
    def write(self, df: DataFrame, batch: BatchInfo) -> int | None:
        """Write one batch's rows; the number written when the sink :attr:`counts_rows`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address.raw!r})"
