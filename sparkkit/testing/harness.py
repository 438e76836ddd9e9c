"""Feed scripted micro-batches to a job in either API and get each batch's output rows.

Batches are written as files ``batch-NNNNNN.txt`` into an input directory read by the job's
real file source with ``maxFilesPerTrigger=1``, and the output goes through the real batch
writer into a ``memory://`` table, so the harness exercises the same path as ``sparkkit run``.
It waits on batch completion, never on the clock: DStream runs block until the memory table
has seen one output per input batch; Structured runs call ``processAllAvailable`` after each
batch, so ``outputs[i]`` is exactly what input batch ``i`` produced.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkkit.config import load_config
from sparkkit.errors import HarnessTimeoutError
from sparkkit.jobs import get_job
from sparkkit.runner import Run, prepare
from sparkkit.sinks import memory_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Rows = list[dict[str, Any]]


def without(rows: Rows, *columns: str) -> Rows:
    """``rows`` with ``columns`` dropped (``batch_time`` differs from run to run)."""
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def as_counts(rows: Rows, key: str = "word") -> dict[str, int]:
    """``{row[key]: row["count"]}`` for one batch's rows."""
    return {row[key]: row["count"] for row in rows}


class StreamHarness:
    """Runs jobs over scripted batches on one SparkSession.

    Parameters
    ----------
    spark : SparkSession
        The session (the plugin's ``spark`` fixture).
    workdir : Path
        A fresh directory for input files and checkpoints.
    timeout : float
        Seconds to wait for all batches before failing with :class:`HarnessTimeoutError`.
    """

    def __init__(self, spark: SparkSession, workdir: Path, timeout: float = 120.0) -> None:
        self.spark = spark
        self.workdir = Path(workdir)
        self.timeout = timeout

    def _input_dir(self) -> Path:
        path = self.workdir / f"input-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    @staticmethod
    def _write_batch(directory: Path, index: int, lines: Sequence[str], mtime: float | None = None) -> None:
        final = directory / f"batch-{index:06d}.txt"
        tmp = directory / f".{final.name}.tmp"
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, final)

    def run(
        self,
        job: str,
        batches: Sequence[Sequence[str]],
        api: str = "structured",
        options: Mapping[str, Any] | None = None,
    ) -> list[Rows]:
        """Run ``job`` over ``batches`` (each a list of input lines); the output rows of each batch."""
        input_dir = self._input_dir()
        table_name = f"harness_{uuid.uuid4().hex[:12]}"
        cli: dict[str, Any] = {
            "batch_interval": "500ms",
            **(options or {}),
            "api": api,
            "source": [f"file://{input_dir}?format=text&maxFilesPerTrigger=1"],
            "sink": f"memory://{table_name}?keep={len(batches) + 1000}",
        }
        job_obj = get_job(job)
        config = load_config(job_obj.name, job_obj.options, cli, env={}, conf_dir=self.workdir / "no-conf")
        table = memory_table(table_name, keep=len(batches) + 1000)
        if api == "dstream":
            for i, lines in enumerate(batches):
                self._write_batch(input_dir, i, lines)
        job_run = Run(prepare(config), self.spark).start()
        try:
            if api == "dstream":
                done = table.wait_for(lambda t: t.total_batches >= len(batches), self.timeout)
                if not done:
                    raise HarnessTimeoutError(
                        f"{job} --api dstream: {table.total_batches} of {len(batches)} batches "
                        f"written after {self.timeout} s"
                    )
                return [rows for _, rows in list(table.batches)[: len(batches)]]
            outputs: list[Rows] = []
            for i, lines in enumerate(batches):
                before = table.total_batches
                self._write_batch(input_dir, i, lines)
                job_run.process_all_available()
                outputs.append([row for _, rows in list(table.batches)[before:] for row in rows])
            return outputs
        finally:
            job_run.stop(graceful=False)
