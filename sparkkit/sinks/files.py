"""``json:///DIR`` and ``parquet:///DIR``: archival storage, one set of files per batch.

Each batch is written by Spark into a hidden staging directory and its part files renamed
into DIR as ``batch-<key>-<n>.<ext>``; a re-run of the same batch first removes that batch's
files, so the directory holds every batch exactly once and ``spark.read.json(DIR)`` (or
``spark.read.parquet(DIR)``) reads it back.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from sparkkit.sinks.base import BatchInfo, Sink

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class FileSink(Sink):
    """Writes each batch as JSON lines or Parquet files into one directory."""

    scheme = "json"
    reports_progress = True

    @property
    def directory(self) -> Path:
        return Path(self.address.path)

    @property
    def extension(self) -> str:
        return "json" if self.address.scheme == "json" else "parquet"

    def write(self, df: DataFrame, batch: BatchInfo) -> None:
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        staging = directory / f"_staging-{batch.key}-{uuid.uuid4().hex[:8]}"
        writer = df.write.mode("overwrite")
        if self.address.scheme == "json":
            writer.json(str(staging), timestampFormat="yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
        else:
            writer.parquet(str(staging))
        prefix = f"batch-{batch.key}-"
        for old in directory.glob(prefix + "*"):
            old.unlink()
        parts = sorted(p for p in staging.iterdir() if p.name.startswith("part-"))
        for n, part in enumerate(parts):
            os.replace(part, directory / f"{prefix}{n:05d}.{self.extension}")
        shutil.rmtree(staging, ignore_errors=True)
