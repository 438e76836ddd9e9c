"""``json:///DIR`` and ``parquet:///DIR``: archival storage, one file per batch, exactly once.

Each batch is written by Spark into a hidden staging directory as one file, which is then
renamed into DIR as ``batch-<key>.<ext>``. A rename is atomic, so a reader of the live directory
(``spark.read.json(DIR)``) sees a batch whole or not at all; a re-run of the same batch after a
crash renames its file over the old one, so DIR holds every batch exactly once.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from sparkkit.sinks.base import JSON_TIMESTAMP_FORMAT, BatchInfo, Delivery, Sink

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class FileSink(Sink):
    """Writes each batch as one JSON-lines or Parquet file into one directory."""

    scheme = "json"
    delivery = Delivery.EXACTLY_ONCE
    reports_progress = True

    @property
    def directory(self) -> Path:
        return Path(self.address.path)

    @property
    def extension(self) -> str:
        return "json" if self.address.scheme == "json" else "parquet"

    def path_of(self, batch: BatchInfo) -> Path:
        """The one file that holds ``batch``."""
        return self.directory / f"batch-{batch.key}.{self.extension}"

    def write(self, df: DataFrame, batch: BatchInfo) -> None:
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        staging = directory / f"_staging-{batch.key}-{uuid.uuid4().hex[:8]}"
        writer = df.coalesce(1).write.mode("overwrite").option("maxRecordsPerFile", 0)  # one file
        if self.address.scheme == "json":
            writer.json(str(staging), timestampFormat=JSON_TIMESTAMP_FORMAT)
        else:
            writer.parquet(str(staging))
        try:
            parts = [p for p in staging.iterdir() if p.name.startswith("part-")]
            if parts:
                os.replace(parts[0], self.path_of(batch))
            else:  # Spark wrote no file for no rows
                self.path_of(batch).unlink(missing_ok=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
