"""``console://``: each batch printed as a table, for demos and debugging."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, ClassVar

from sparkkit.sinks.base import BatchInfo, Delivery, Sink, quoted

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import DataType


#: The column a batch with no sortable column is sorted by: each row's position.
_POSITION = "__sparkkit_position"


class ConsoleSink(Sink):
    """Prints up to ``?rows=N`` rows (default 20) of every batch: largest counts first, else in
    the order of the columns' values (those Spark can sort), else as they come.

    One job reads the batch: the rows shown are the first of a sort that sees every row, and an
    observation on its input counts them all (the writer needs no count of its own).
    """

    scheme = "console"
    delivery = Delivery.AT_LEAST_ONCE
    counts_rows = True
    options: ClassVar[dict[str, str]] = {"rows": "a whole number >= 1"}

    def write(self, df: DataFrame, batch: BatchInfo) -> int:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        from sparkkit.metrics import observed

        limit = int(self.address.params.get("rows", "20"))
        order = _display_order(df)
        if not order:  # nothing sortable: a row's position is, so the sort still sees every row
            df = df.withColumn(_POSITION, F.monotonically_increasing_id())
            order = [F.col(_POSITION)]
        seen = Observation()
        counted = df.observe(seen, F.count(F.lit(1)).alias("rows"))
        rows = counted.orderBy(*order).limit(limit).collect()
        total = int(observed(seen).get("rows", 0))
        label = batch.time.strftime("%Y-%m-%d %H:%M:%S")
        if batch.batch_id is not None:
            label += f" (batch {batch.batch_id})"
        out = ["-" * 60, f"Batch: {label}", "-" * 60]
        if not rows:
            out.append("(no rows)")
        else:
            columns = [c for c in df.columns if c not in ("batch_time", _POSITION)]
            widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
            out.append("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
            out += ["  ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths, strict=True)) for r in rows]
            if total > limit:
                out.append(f"... (showing the first {limit} of {total} rows)")
        print("\n".join(out), file=sys.stdout, flush=True)
        return total


def _display_order(df: DataFrame) -> list[Column]:
    """``count`` descending, then every other column Spark can sort (not maps, variants,
    intervals of months and days), ascending."""
    from pyspark.sql import functions as F

    names = [f.name for f in df.schema.fields if _sortable(f.dataType)]
    order = [F.col(quoted(n)).asc_nulls_first() for n in names if n != "count"]
    return [F.col("count").desc(), *order] if "count" in names else order


def _sortable(kind: DataType) -> bool:
    """Can Spark sort by a column of this type (as its ``RowOrdering.isOrderable`` decides)?"""
    from pyspark.sql import types as T

    if isinstance(kind, T.ArrayType):
        return _sortable(kind.elementType)
    if isinstance(kind, T.StructType):
        return all(_sortable(f.dataType) for f in kind.fields)
    if isinstance(kind, T.UserDefinedType):
        return _sortable(kind.sqlType())
    return isinstance(kind, T.NullType | T.AtomicType) and not isinstance(kind, T.VariantType | T.SpatialType)
