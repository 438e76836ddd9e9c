"""``socket://HOST:PORT``: text lines read from a TCP server (not replayable: no recovery).

Spark's receivers decode each line as UTF-8 themselves, so an invalid byte arrives as U+FFFD in a
good record: a socket has no dead letters. Lines end at LF, CRLF or CR; an empty line is a record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkkit.sources.base import Source, SourceContext

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.streaming import DStream, StreamingContext


class SocketSource(Source):
    """Lines from ``socket://HOST:PORT``: a receiver in DStreams, Spark's socket source in Structured."""

    scheme = "socket"

    def dstream(self, ssc: StreamingContext, ctx: SourceContext) -> DStream[str]:
        return ssc.socketTextStream(self.address.host, self.address.port)

    def structured(self, spark: SparkSession, ctx: SourceContext) -> DataFrame:
        return (
            spark.readStream.format("socket")
            .option("host", self.address.host)
            .option("port", self.address.port)
            .load()
        )
