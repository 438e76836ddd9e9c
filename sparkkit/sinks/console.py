"""``console://``: each batch printed as a table, for demos and debugging."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, ClassVar

from sparkkit.sinks.base import BatchInfo, Delivery, Sink

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class ConsoleSink(Sink):
    """Prints up to ``?rows=N`` rows (default 20) of every batch, largest counts first."""

    scheme = "console"
    delivery = Delivery.AT_LEAST_ONCE
    options: ClassVar[dict[str, str]] = {"rows": "a whole number >= 1"}

    def write(self, df: DataFrame, batch: BatchInfo) -> None:
        limit = int(self.address.params.get("rows", "20"))
        if "count" in df.columns:
            df = df.orderBy(df["count"].desc(), *[c for c in df.columns if c != "count"])
        rows = df.limit(limit + 1).collect()
        label = batch.time.strftime("%Y-%m-%d %H:%M:%S")
        if batch.batch_id is not None:
            label += f" (batch {batch.batch_id})"
        out = ["-" * 60, f"Batch: {label}", "-" * 60]
        if not rows:
            out.append("(no rows)")
        else:
            columns = [c for c in df.columns if c != "batch_time"]
            widths = [max(len(c), *(len(str(r[c])) for r in rows[:limit])) for c in columns]
            out.append("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
            out += [
                "  ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths, strict=True))
                for r in rows[:limit]
            ]
            if len(rows) > limit:
                out.append(f"... (showing the first {limit} rows)")
        print("\n".join(out), file=sys.stdout, flush=True)
