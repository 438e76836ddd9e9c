"""The sink contract: ``write(df, batch)`` once per batch, idempotent for a re-run of the same batch."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from sparkkit.addresses import Address

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class BatchInfo:
    """One batch: its time, and for Structured Streaming its id.

    ``key`` identifies the batch across a re-run after a crash: the batch id in Structured
    Streaming, the batch time in DStreams.
    """

    time: datetime
    batch_id: int | None = None

    @property
    def time_ms(self) -> int:
        return round(self.time.timestamp() * 1000)

    @property
    def key(self) -> str:
        return f"id-{self.batch_id:012d}" if self.batch_id is not None else f"t-{self.time_ms:015d}"


class Sink(ABC):
    """Where a job's output rows go."""

    scheme: ClassVar[str]
    #: Print a progress line per batch (sinks whose output the user does not see directly).
    reports_progress: ClassVar[bool] = False

    def __init__(self, address: Address) -> None:
        self.address = address

    @abstractmethod
    def write(self, df: DataFrame, batch: BatchInfo) -> None:
        """Write one batch's rows; writing the same batch again replaces it."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address.raw!r})"
