"""Where a record came from: the ``_origin`` column a source adds to its streaming DataFrame.

``_origin`` is a struct ``source, topic, partition, offset, file``: the source's address without
its options (which may hold credentials), and the Kafka position or the file that held the
record. The stream processor archives it with each record as ``origin``; jobs ignore it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

COLUMN = "_origin"
SCHEMA = "source STRING, topic STRING, partition INT, offset BIGINT, file STRING"


def origin_fields(
    source: str, topic: Column | None = None, partition: Column | None = None,
    offset: Column | None = None, file: Column | None = None,
) -> list[Column]:  # fmt: skip
    """The origin's fields as named columns (nulls where the source has no such position)."""
    from pyspark.sql import functions as F

    def given(column: Column | None, kind: str) -> Column:
        return F.lit(None).cast(kind) if column is None else column.cast(kind)

    return [
        F.lit(source).alias("source"),
        given(topic, "string").alias("topic"),
        given(partition, "int").alias("partition"),
        given(offset, "bigint").alias("offset"),
        given(file, "string").alias("file"),
    ]


def origin_column(
    source: str, topic: Column | None = None, partition: Column | None = None,
    offset: Column | None = None, file: Column | None = None,
) -> Column:  # fmt: skip
    """The ``_origin`` struct of a record."""
    from pyspark.sql import functions as F

    return F.struct(*origin_fields(source, topic, partition, offset, file))
