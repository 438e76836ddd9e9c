"""``file:///DIR?format=text|json|csv``: files that appear in a directory, each read exactly once.

Files must arrive atomically (written elsewhere, then renamed into DIR); names starting with
``.`` or ``_`` are ignored, as Spark does. Files already in DIR at the first start are read too,
in both APIs (``textFileStream`` alone would skip them, and would also skip a moved-in file whose
modification time is old). The DStream form plans each batch's files on the driver by name and
appends the plan to a log in the checkpoint *before* the batch runs, so a batch re-run after a
crash reads the same files, and no file is read by two batches.
"""

from __future__ import annotations

import csv
import os
import sys
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkkit.deadletters import COLUMN, dead_letter_column, parse_json_column, read_value
from sparkkit.errors import ConfigError
from sparkkit.origin import COLUMN as ORIGIN
from sparkkit.origin import origin_column
from sparkkit.sources.base import Source, SourceContext
from sparkkit.sources.ticker import PlanLog, planned_stream

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType
    from pyspark.streaming import DStream, StreamingContext

_OWN_PARAMS = ("format", "schema")
#: File-source options that apply to JSON lines read as text.
_TEXT_READER_OPTIONS = ("maxFileAge", "maxFilesPerTrigger", "latestFirst", "fileNameOnly", "cleanSource",
                        "sourceArchiveDir", "pathGlobFilter", "recursiveFileLookup")  # fmt: skip


def batch_ms(time: datetime) -> int:
    """A DStream batch time (a naive local datetime from PySpark) as epoch milliseconds."""
    return round(time.timestamp() * 1000)


def is_visible(name: str) -> bool:
    return not name.startswith((".", "_"))


#: Characters Hadoop treats as glob syntax or path separators in ``textFile`` paths.
HADOOP_SPECIAL = frozenset(",{}[]*?\\")


def list_files(directory: Path) -> list[str]:
    """Visible regular files in ``directory``, as absolute paths, sorted."""
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(e.path for e in entries if is_visible(e.name) and e.is_file())


class DirectoryPlanner:
    """Decides, on the driver, which new files each DStream batch reads; logs it before use.

    Picklable (it is part of the DStream graph saved in the checkpoint); the in-memory index of
    files already planned is rebuilt from the log after unpickling.
    """

    def __init__(self, directory: str, log_path: str, max_files: int | None = None) -> None:
        self.directory = directory
        self.log_path = log_path
        self.max_files = max_files
        self._plans: dict[int, list[str]] | None = None
        self._seen: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self.directory, "log_path": self.log_path, "max_files": self.max_files}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"], state["log_path"], state["max_files"])  # type: ignore[misc]

    def _load(self) -> dict[int, list[str]]:
        if self._plans is None:
            self._plans = {}
            for entry in PlanLog(self.log_path).read():
                self._plans[entry["batch"]] = entry["files"]
                self._seen.update(entry["files"])
                self._seen.update(entry.get("skipped", []))
        return self._plans

    def files_for(self, batch: int) -> list[str]:
        """The files batch ``batch`` (epoch ms) reads: the logged plan, or the new files now."""
        plans = self._load()
        if batch in plans:
            return plans[batch]
        if plans and batch < max(plans):
            # planned empty before a crash (empty plans are not logged): recomputing an old
            # window's batch after a restart must not take files that came since
            return []
        candidates = [f for f in list_files(Path(self.directory)) if f not in self._seen]
        skipped = [f for f in candidates if HADOOP_SPECIAL & set(os.path.basename(f))]
        new = [f for f in candidates if f not in skipped][: self.max_files]
        if new or skipped:
            entry: dict[str, Any] = {"batch": batch, "files": new}
            if skipped:
                entry["skipped"] = skipped
                for path in skipped:
                    print(
                        f"[sparkkit] not reading {path}: its name has one of "
                        f"{''.join(sorted(HADOOP_SPECIAL))}, which Hadoop reads as a pattern; rename it",
                        file=sys.stderr,
                        flush=True,
                    )
            PlanLog(self.log_path).append(entry)
            plans[batch] = new
            self._seen.update(new + skipped)
        return new


def decode_lines(data: bytes) -> str:
    """UTF-8 with replacement characters, as Spark's own text source reads bytes."""
    return data.decode("utf-8", "replace")


class _FileReader:
    """The per-batch transform: plan the batch's files and read them as one RDD."""

    def __init__(self, planner: DirectoryPlanner, fmt: str, header: bool, source: str) -> None:
        self.planner = planner
        self.fmt = fmt
        self.header = header
        self.source = source

    def __call__(self, time: datetime, tick: RDD[Any]) -> RDD[Any]:
        sc = tick.context
        files = self.planner.files_for(batch_ms(time))
        if not files:
            return sc.emptyRDD()
        raw: list[RDD[Any]] = [sc.textFile(path, use_unicode=False) for path in files]
        if self.fmt == "json":
            parts = [
                lines.filter(_not_blank).map(partial(read_value, fmt="json", source=self.source, file=path))
                for lines, path in zip(raw, files, strict=True)
            ]
            return sc.union(parts) if len(parts) > 1 else parts[0]
        parts = [lines.map(decode_lines) for lines in raw]
        if self.fmt == "csv" and self.header:
            parts = [rdd.mapPartitionsWithIndex(_drop_first_line) for rdd in parts]
        lines = sc.union(parts) if len(parts) > 1 else parts[0]
        if self.fmt == "csv":
            return lines.map(lambda s: next(csv.reader([s]), []))
        return lines


def _not_blank(raw: bytes) -> bool:
    return raw.strip() != b""


def _drop_first_line(index: int, lines: Any) -> Any:
    if index == 0:
        next(lines, None)
    return lines


class FileSource(Source):
    """New files in a directory, text lines or parsed JSON/CSV records."""

    scheme = "file"

    @property
    def directory(self) -> Path:
        return Path(self.address.path)

    @property
    def record_format(self) -> str:
        return self.address.params["format"]

    @property
    def dead_letters(self) -> bool:
        return self.record_format == "json"

    @property
    def max_files(self) -> int | None:
        """``maxFilesPerTrigger``: at most this many new files per batch (DStreams take them by name)."""
        text = self.address.params.get("maxFilesPerTrigger")
        if text is None:
            return None
        if not (text.isascii() and text.isdigit() and int(text) >= 1):
            raise ConfigError("--source", self.address.raw, "maxFilesPerTrigger must be a whole number >= 1")
        return int(text)

    def reader_options(self) -> dict[str, str]:
        """Spark reader options from the address; ``maxFileAge`` defaults to ~100 years so that a
        file moved in with an old modification time is still read (Spark's default is 7 days)."""
        options = {"maxFileAge": "36500d"}
        options.update((k, v) for k, v in self.address.params.items() if k not in _OWN_PARAMS)
        return options

    def check(self) -> None:
        self.max_files  # noqa: B018 - validates the option
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigError("--source", self.address.raw, f"{self.directory} is not a directory")
        if (
            self.record_format != "text"
            and "schema" not in self.address.params
            and not list_files(self.directory)
        ):
            raise ConfigError(
                "--source",
                self.address.raw,
                f"format={self.record_format} needs ?schema=DDL (e.g. schema=word STRING, n INT) "
                "while the directory holds no file to infer it from",
            )

    def dstream(self, ssc: StreamingContext, ctx: SourceContext) -> DStream[Any]:
        self.directory.mkdir(parents=True, exist_ok=True)
        state = ctx.state_dir / self.name
        planner = DirectoryPlanner(str(self.directory), str(state / "plans.jsonl"), self.max_files)
        header = self.address.params.get("header", "false").lower() == "true"
        reader = _FileReader(planner, self.record_format, header, self.address.location)
        return planned_stream(ssc, state, reader)

    def structured(self, spark: SparkSession, ctx: SourceContext) -> DataFrame:
        """The records (lines, or the schema's columns), ``_origin`` (the file) and, for JSON,
        ``_dead_letter``."""
        from pyspark.sql import functions as F

        self.directory.mkdir(parents=True, exist_ok=True)
        reader = spark.readStream.format(self.record_format).options(**self.reader_options())
        schema: str | StructType | None = self.address.params.get("schema")
        if schema is None and self.record_format != "text":
            sample = spark.read.format(self.record_format).options(**self.reader_options())
            schema = sample.load(str(self.directory)).schema
        if self.record_format == "json":
            assert schema is not None
            return self._with_dead_letters(spark, schema)
        if schema is not None:
            reader = reader.schema(schema)
        df = reader.load(str(self.directory))
        return df.withColumn(ORIGIN, origin_column(self.address.location, file=F.col("_metadata.file_path")))

    def _with_dead_letters(self, spark: SparkSession, schema: str | StructType) -> DataFrame:
        """JSON lines are read as text and parsed, so a line that does not parse becomes a dead
        letter naming its file (Spark's JSON reader would give a row of nulls)."""
        from pyspark.sql import functions as F

        options = {k: v for k, v in self.reader_options().items() if k in _TEXT_READER_OPTIONS}
        lines = spark.readStream.format("text").options(**options).load(str(self.directory))
        lines = lines.where(F.trim("value") != "").select(
            "value", F.col("_metadata.file_path").alias("_file")
        )
        df, fields, reason = parse_json_column(lines, F.col("value"), schema)
        letter = dead_letter_column(F.col("value"), reason, self.address.location, file=F.col("_file"))
        origin = origin_column(self.address.location, file=F.col("_file"))
        return df.select(*fields, letter.alias(COLUMN), origin.alias(ORIGIN))
