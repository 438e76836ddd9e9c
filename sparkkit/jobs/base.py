"""The job contract: the same computation over a DStream and over a streaming DataFrame."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sparkkit.config import COMMON_OPTIONS, JobConfig
from sparkkit.jobs.state import state_store_conf

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType
    from pyspark.streaming import DStream


@dataclass(frozen=True)
class StructuredPlan:
    """A Structured job: the streaming DataFrame, an optional per-micro-batch step, the output mode.

    ``per_batch`` runs inside ``foreachBatch`` on each micro-batch's rows; stateless per-batch
    aggregations (such as wordcount's) live there, stateful ones in ``stream`` itself.
    """

    stream: DataFrame
    per_batch: Callable[[DataFrame], DataFrame] | None = None
    output_mode: str = "append"


class Job(ABC):
    """A streaming job in both APIs.

    Subclasses declare their extra options, which options shape their state (a restart on a
    checkpoint must not change those), the record format they read, and the output columns
    (``batch_time`` is added by the writer for per-batch outputs).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    extra_options: ClassVar[tuple[str, ...]] = ()
    state_options: ClassVar[tuple[str, ...]] = ()
    input_formats: ClassVar[tuple[str, ...]] = ("text",)
    #: Output columns (without ``batch_time``) and their Spark SQL types.
    columns: ClassVar[tuple[tuple[str, str], ...]]
    has_batch_time: ClassVar[bool] = True

    @property
    def options(self) -> tuple[str, ...]:
        return COMMON_OPTIONS + self.extra_options

    def check(self, config: JobConfig) -> None:  # noqa: B027 - optional hook
        """Job-specific validation before Spark starts; raise ConfigError."""

    def structured_conf(self, config: JobConfig) -> dict[str, str]:
        """Session configuration the Structured form needs before its query starts: the state store."""
        return state_store_conf(config.state_store) if "state_store" in self.extra_options else {}

    def output_schema(self) -> StructType:
        """The schema of the output rows, without ``batch_time``."""
        from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

        types = {"string": StringType, "bigint": LongType, "timestamp": TimestampType}
        return StructType([StructField(name, types[kind]()) for name, kind in self.columns])

    @abstractmethod
    def dstream(self, stream: DStream[Any], config: JobConfig) -> DStream[Any]:
        """The job over a DStream of input records; yields tuples in ``output_schema`` order."""

    @abstractmethod
    def structured(self, stream: DataFrame, config: JobConfig) -> StructuredPlan:
        """The job over a streaming DataFrame of input records."""
