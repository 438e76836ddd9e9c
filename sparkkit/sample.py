"""A uniform random sample of a stream's records, of a fixed size, as a global temporary view.

A stream with ``sample = N`` keeps ``global_temp.<stream>_sample``: N records drawn uniformly
without replacement from every record the stream has had in this run (a reservoir, kept by
bottom-k sampling: each record draws a random priority, the N lowest stay). Memory is N records
however long the job runs. Two columns say how far an answer from the sample may be off:

- ``sample_weight``: how many records of the stream each sampled record stands for
  (records seen / records kept); ``sum(sample_weight)`` over a subset estimates its count;
- ``fraction_error``: the largest standard error of a fraction estimated from the sample,
  ``0.5 / sqrt(N)`` times the finite-population correction ``sqrt((n - N) / (n - 1))`` (0 while
  the sample still holds every record).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

PRIORITY = "_sample_priority"


def fraction_error(kept: int, seen: int) -> float:
    """The largest standard error of a fraction estimated from ``kept`` of ``seen`` records."""
    if kept == 0 or seen <= kept:
        return 0.0
    return 0.5 / math.sqrt(kept) * math.sqrt((seen - kept) / (seen - 1))


class Reservoir:
    """``foreachBatch`` target that keeps a uniform sample of ``size`` records in ``view``.

    ``seed`` makes the priorities reproducible (tests); by default each run draws its own.
    """

    def __init__(self, view: str, size: int, seed: int | None = None) -> None:
        if size < 1:
            raise ValueError("a sample holds at least one record")
        self.view = view
        self.size = size
        self.seed = seed
        self.seen = 0
        self._kept: DataFrame | None = None

    @property
    def kept(self) -> int:
        """How many records the sample holds now."""
        return min(self.seen, self.size)

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        from pyspark.sql import functions as F

        batch = df.persist()
        try:
            arrived = batch.count()
            if arrived == 0 and self._kept is not None:
                return
            seed = None if self.seed is None else self.seed * 1_000_003 + batch_id
            drawn = batch.withColumn(PRIORITY, F.rand(seed))
            candidates = drawn if self._kept is None else self._kept.unionByName(drawn)
            kept = candidates.orderBy(PRIORITY).limit(self.size).localCheckpoint(eager=True)
        finally:
            batch.unpersist()
        self.seen += arrived
        self._kept = kept
        weight = self.seen / self.kept if self.kept else 0.0
        kept.drop(PRIORITY).withColumns(
            {
                "sample_weight": F.lit(weight),
                "fraction_error": F.lit(fraction_error(self.kept, self.seen)),
            }
        ).createOrReplaceGlobalTempView(self.view)
