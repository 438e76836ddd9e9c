"""Writing dead letters: an ordinary sink per run (``json://DIR`` by default), each one counted.

Above the sources and sinks: sources only mark unreadable records (:mod:`sparkkit.deadletters`);
the runner and the processor split them off and write them here.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkkit.deadletters import SCHEMA
from sparkkit.progress import stats_for
from sparkkit.sinks import BatchInfo, Sink, sink_for

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import DataFrame


def default_location(checkpoint: str | None, job: str) -> Path:
    """``ROOT/JOB/dead-letters`` beside a job's checkpoint, else ``./dead-letters/JOB``."""
    if checkpoint:
        return Path(checkpoint) / job / "dead-letters"
    return Path.cwd() / "dead-letters" / job


class DeadLetterWriter:
    """Writes each batch's dead letters through an ordinary sink and counts them.

    The sink is any sink (``json://DIR`` by default, see :func:`dead_letter_sink`); its delivery
    guarantee is the dead letters' guarantee. Picklable: in a DStream job it is part of the
    checkpointed graph.
    """

    def __init__(self, sink: Sink, run_key: str, run_id: str) -> None:
        self.sink = sink
        self.run_key = run_key
        self.run_id = run_id

    def dstream_batch(self, time: datetime, rdd: RDD[Any]) -> None:
        """``foreachRDD`` target over a DStream of :class:`DeadLetter` elements."""
        if rdd.isEmpty():
            return
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        self.write(spark.createDataFrame(rdd, SCHEMA), BatchInfo(time, run_id=self.run_id))

    def structured_batch(self, df: DataFrame, batch_id: int) -> None:
        """``foreachBatch`` target over the dead-letter columns."""
        self.write(df, BatchInfo(datetime.now().replace(microsecond=0), batch_id, self.run_id))

    def write(self, df: DataFrame, batch: BatchInfo) -> None:
        letters = df.persist()
        try:
            count = letters.count()
            if count:
                self.sink.write(letters, batch)
        finally:
            letters.unpersist()
        if count:
            stats_for(self.run_key).dead(count)
            print(
                f"[sparkkit] batch {batch.label}: {count} unreadable records -> {self.sink.address.location}",
                file=sys.stderr,
                flush=True,
            )


def dead_letter_sink(location: str | Path) -> Sink:
    """The sink for ``--dead-letters``: a sink address, or a directory (JSON lines files)."""
    text = str(location)
    return sink_for(text if "://" in text else f"json://{Path(text).resolve()}")


def read_dead_letters(directory: str | Path) -> list[dict[str, Any]]:
    """Every dead letter written into ``directory``, as dicts (for tests and inspection)."""
    letters = []
    for path in sorted(Path(directory).glob("batch-*.json")):
        letters += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return letters
