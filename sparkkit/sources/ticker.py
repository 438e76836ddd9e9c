"""A DStream that ticks once per batch and survives ``StreamingContext.getOrCreate``.

Driver-planned sources (files, generator, Kafka) hang a ``transform`` on it: the transform runs
on the driver at every batch time, also for batches re-planned after a recovery. The ticker is
a ``textFileStream`` on a directory that stays empty: its checkpoint data restores cleanly,
unlike a ``ConstantInputDStream``, whose restored RDD has no SparkContext (SPARK-13758) and
fails when old batches are unpersisted, and unlike ``queueStream``, which cannot be checkpointed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.streaming import DStream, StreamingContext


def ticker(ssc: StreamingContext, state_dir: Path) -> DStream[str]:
    """A DStream of empty RDDs, one per batch."""
    tick_dir = state_dir / "tick"
    tick_dir.mkdir(parents=True, exist_ok=True)
    return ssc.textFileStream(str(tick_dir))


def planned_stream(
    ssc: StreamingContext, state_dir: Path, plan: Callable[[datetime, RDD[Any]], RDD[Any]]
) -> DStream[Any]:
    """A DStream whose RDD for each batch time is ``plan(time, tick)``, called on the driver.

    ``plan`` must be picklable (it is saved in the checkpoint) and deterministic for a batch
    time once it has returned: after a recovery it is called again for the same times.
    """
    return ticker(ssc, state_dir).transform(lambda time, tick: plan(time, tick))


class PlanLog:
    """An append-only JSON-lines log of per-batch plans, fsync'd before a plan is used.

    A torn last line (the driver died mid-append) belongs to a batch that never ran: it is cut
    off on read, so the next append starts on a clean line.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
            with open(self.path, "r+") as fh:
                fh.truncate(len(text.encode()))
        return [json.loads(line) for line in text.splitlines()]

    def append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(entry) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
