"""``file:///DIR?format=text|json|csv``: files that appear in a directory, each read exactly once.

Files must arrive atomically (written elsewhere, then renamed into DIR); names starting with
``.`` or ``_`` are ignored, as Spark does. Files already in DIR at the first start are read too,
in both APIs (``textFileStream`` alone would skip them, and would also skip a moved-in file whose
modification time is old). The DStream form plans each batch's files on the driver by name and
appends the plan to a log in the checkpoint *before* the batch runs, so a batch re-run after a
crash reads the same files, and no file is read by two batches.

Both APIs read the same way: Spark's text reader gives each line's bytes, and one set of SQL
expressions (:func:`file_records`) turns lines into records or dead letters
(:mod:`sparkkit.deadletters` says what is bad, per format); the DStream form runs them on each
batch's files and hands the rows over as Python records (``str`` lines, ``dict`` rows of the
schema, :class:`~sparkkit.deadletters.DeadLetter`). ``file`` in a dead letter or an origin is the
file's URI as Spark gives it (``file:/in/a%20b.json``: percent-encoded).

File names with ``, { } [ ] * ? \\`` are read like any other: the files of a batch are given to
Spark as paths, never as glob patterns, and listed one by one (``recursiveFileLookup``: Spark's
file index otherwise reads the other files of a batch twice when one such name is among them).
A name with ``:`` cannot be opened by Hadoop at all; the DStream form skips it with a warning.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkkit.deadletters import (
    COLUMN,
    DeadLetter,
    dead_letter_column,
    parse_csv_column,
    parse_json_column,
    utf8_reason,
)
from sparkkit.errors import ConfigError
from sparkkit.origin import COLUMN as ORIGIN
from sparkkit.origin import origin_column
from sparkkit.sources.base import Source, SourceContext
from sparkkit.sources.ticker import PlanLog, planned_stream

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import Column, DataFrame, Row, SparkSession
    from pyspark.sql.types import StructType
    from pyspark.streaming import DStream, StreamingContext

_OWN_PARAMS = ("format", "schema")
#: Options of Spark's file source that choose files (Structured only: DStreams plan by name).
_SELECTION_OPTIONS = ("maxFileAge", "maxFilesPerTrigger", "latestFirst", "fileNameOnly", "cleanSource",
                      "sourceArchiveDir", "pathGlobFilter")  # fmt: skip
#: Options of the line reader (both APIs).
_LINE_OPTIONS = ("lineSep",)
#: Reader options that are not the parser's: sparkkit reads lines itself and decides the rest.
_NOT_PARSER_OPTIONS = ("header", "multiLine", "inferSchema", "enforceSchema", "samplingRatio", "encoding",
                       "charset", "lineSep", "recursiveFileLookup", "wholetext", "__globPaths__")  # fmt: skip
#: Every file of a batch listed by name, never as a pattern (see the module docstring).
_EXACT_FILES = {"recursiveFileLookup": "true"}
#: Lines Spark's readers skip: JSON whitespace; for CSV, what Scala's ``trim`` removes.
_BLANK = {"json": r"^[ \t]*$", "csv": r"^[\x00-\x20]*$"}
#: Default line ends of Hadoop's line reader.
_LINE_ENDS = r"\r\n|\r|\n"


def batch_ms(time: datetime) -> int:
    """A DStream batch time (a naive local datetime from PySpark) as epoch milliseconds."""
    return round(time.timestamp() * 1000)


def is_visible(name: str) -> bool:
    return not name.startswith((".", "_"))


#: Characters in a file name that Hadoop cannot open (``a:b`` is read as a URI scheme).
HADOOP_UNREADABLE = frozenset(":")


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
    files already planned is rebuilt from the log after unpickling. Files an older version
    skipped (logged as ``skipped``) are planned again, unless Hadoop still cannot open them.
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
                self._seen.update(f for f in entry.get("skipped", []) if _unreadable(f))
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
        skipped = [f for f in candidates if _unreadable(f)]
        new = [f for f in candidates if f not in skipped][: self.max_files]
        if new or skipped:
            entry: dict[str, Any] = {"batch": batch, "files": new}
            if skipped:
                entry["skipped"] = skipped
                for path in skipped:
                    print(
                        f"[sparkkit] not reading {path}: Hadoop cannot open a name with "
                        f"{''.join(sorted(HADOOP_UNREADABLE))}; rename it",
                        file=sys.stderr,
                        flush=True,
                    )
            PlanLog(self.log_path).append(entry)
            plans[batch] = new
            self._seen.update(new + skipped)
        return new


def _unreadable(path: str) -> bool:
    return bool(HADOOP_UNREADABLE & set(os.path.basename(path)))


def _regex_quote(text: str) -> str:
    """``text`` as a literal in a Java regular expression."""
    return "\\Q" + text.replace("\\E", "\\E\\\\E\\Q") + "\\E"


def file_records(
    lines: DataFrame, fmt: str, schema: str | StructType | None, options: dict[str, str], source: str,
    whole_files: bool = False,
) -> DataFrame:  # fmt: skip
    """Records of a file source from Spark's text reader: the record columns (``value``, or the
    schema's fields), ``_dead_letter`` and ``_origin``.

    ``lines`` has ``value`` (a line's bytes, as Spark's text source gives them: not decoded) and
    ``_file``; with ``whole_files`` each ``value`` is a whole file (``wholetext``), split here into
    lines so that a CSV file's header, its first record, can be told apart. ``options`` are the
    address's parser options (``sep``, ``timestampFormat``...; ``header``, ``comment``).
    """
    from pyspark.sql import functions as F

    header = options.get("header", "false").lower() == "true"
    comment = options.get("comment")
    parser = {k: v for k, v in options.items() if k not in _NOT_PARSER_OPTIONS}

    def kept(line: Column) -> Column:
        keep = ~line.rlike(_BLANK[fmt]) if fmt in _BLANK else F.lit(True)
        return keep & ~line.startswith(comment) if comment and fmt == "csv" else keep

    if whole_files:
        # ISO-8859-1 maps each byte to one character and back: the split keeps every byte as it
        # was (line ends are single bytes that no multi-byte UTF-8 character contains)
        text = F.decode(F.col("value").cast("binary"), "ISO-8859-1")
        sep = options.get("lineSep")
        parts = F.split(text, _regex_quote(sep) if sep else _LINE_ENDS, -1)
        # what follows the last line end is a line only when not empty, as Hadoop reads it
        parts = F.when(F.element_at(parts, -1) == "", F.slice(parts, 1, F.size(parts) - 1)).otherwise(parts)
        parts = F.filter(parts, kept)
        if header and fmt == "csv":
            parts = F.slice(parts, 2, F.greatest(F.size(parts) - 1, F.lit(0)))
        line = F.explode(parts)
        lines = lines.select(line.alias("_line"), "_file").select(
            F.encode("_line", "ISO-8859-1").cast("string").alias("value"), "_file"
        )
    else:
        lines = lines.where(kept(F.col("value")))
    value = F.col("value")
    if fmt == "text":
        df, fields, reason = lines, [value.alias("value")], utf8_reason(value)
    else:
        if schema is None:
            raise ValueError(f"format={fmt} needs a schema")
        parse = parse_json_column if fmt == "json" else parse_csv_column
        df, fields, parsed = parse(lines, value, schema, parser)
        reason = F.coalesce(utf8_reason(value), parsed)
    letter = dead_letter_column(value, reason, source, file=F.col("_file"))
    origin = origin_column(source, file=F.col("_file"))
    return df.select(*fields, letter.alias(COLUMN), origin.alias(ORIGIN))


def _python_record(row: Row, fmt: str) -> Any:
    letter = row[COLUMN]
    if letter is not None:
        return DeadLetter(*letter)
    if fmt == "text":
        return row["value"]
    return row["_record"].asDict(recursive=True)


def python_records(df: DataFrame, fmt: str) -> RDD[Any]:
    """A DataFrame of records and ``_dead_letter`` (:func:`file_records`, Kafka's ``kafka_records``)
    as DStream elements: lines (``str``) or ``dict`` rows, and ``DeadLetter``s."""
    from pyspark.sql import functions as F

    fields = [c for c in df.columns if c not in (COLUMN, ORIGIN)]
    record = F.col("value") if fmt == "text" else F.struct(*fields).alias("_record")
    return df.select(record, COLUMN).rdd.map(partial(_python_record, fmt=fmt))


class _FileReader:
    """The per-batch transform: plan the batch's files and read them as one RDD."""

    def __init__(
        self, planner: DirectoryPlanner, fmt: str, schema: str | None, options: dict[str, str], source: str
    ) -> None:
        self.planner = planner
        self.fmt = fmt
        self.schema = schema
        self.options = options
        self.source = source

    @property
    def whole_files(self) -> bool:
        return self.fmt == "csv" and self.options.get("header", "false").lower() == "true"

    def __call__(self, time: datetime, tick: RDD[Any]) -> RDD[Any]:
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F

        files = self.planner.files_for(batch_ms(time))
        if not files:
            return tick.context.emptyRDD()
        spark = SparkSession.builder.getOrCreate()
        reader = spark.read.format("text").options(**_EXACT_FILES, __globPaths__="false")
        line_options = {k: v for k, v in self.options.items() if k in _LINE_OPTIONS}
        reader = reader.options(**line_options, wholetext=str(self.whole_files).lower())
        lines = reader.load(files).select("value", F.col("_metadata.file_path").alias("_file"))
        df = file_records(lines, self.fmt, self.schema, self.options, self.source, self.whole_files)
        return python_records(df, self.fmt)


class FileSource(Source):
    """New files in a directory: text lines, or JSON/CSV records of a schema, and dead letters."""

    scheme = "file"

    @property
    def directory(self) -> Path:
        return Path(self.address.path)

    @property
    def record_format(self) -> str:
        return self.address.params["format"]

    @property
    def dead_letters(self) -> bool:
        return True

    @property
    def max_files(self) -> int | None:
        """``maxFilesPerTrigger``: at most this many new files per batch (DStreams take them by name)."""
        text = self.address.params.get("maxFilesPerTrigger")
        if text is None:
            return None
        if not (text.isascii() and text.isdigit() and int(text) >= 1):
            raise ConfigError("--source", self.address.raw, "maxFilesPerTrigger must be a whole number >= 1")
        return int(text)

    @property
    def header(self) -> bool:
        return self.record_format == "csv" and self.address.params.get("header", "false").lower() == "true"

    def reader_options(self) -> dict[str, str]:
        """Spark reader options from the address; ``maxFileAge`` defaults to ~100 years so that a
        file moved in with an old modification time is still read (Spark's default is 7 days)."""
        options = {"maxFileAge": "36500d"}
        options.update((k, v) for k, v in self.address.params.items() if k not in _OWN_PARAMS)
        return options

    def _parse_options(self) -> dict[str, str]:
        """The address's options for reading lines and parsing them (both APIs)."""
        return {
            k: v
            for k, v in self.address.params.items()
            if k not in _OWN_PARAMS and k not in _SELECTION_OPTIONS
        }

    def check(self) -> None:
        self.max_files  # noqa: B018 - validates the option
        params = self.address.params
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigError("--source", self.address.raw, f"{self.directory} is not a directory")
        if params.get("multiLine", "false").lower() == "true":
            raise ConfigError(
                "--source",
                self.address.raw,
                "multiLine=true is not supported: records are read one per line, so that a bad line "
                "is kept as a dead letter",
            )
        encoding = params.get("encoding", params.get("charset", "UTF-8"))
        if encoding.upper().replace("-", "") != "UTF8":
            raise ConfigError(
                "--source", self.address.raw, "encoding must be UTF-8 (other bytes are dead letters)"
            )
        if self.record_format != "text" and "schema" not in params and not list_files(self.directory):
            raise ConfigError(
                "--source",
                self.address.raw,
                f"format={self.record_format} needs ?schema=DDL (e.g. schema=word STRING, n INT) "
                "while the directory holds no file to infer it from",
            )

    def schema(self, spark: SparkSession) -> str | None:
        """The record schema as DDL: the address's, or inferred from the files in the directory
        (Spark's reader with the address's options); None for text."""
        if self.record_format == "text":
            return None
        given = self.address.params.get("schema")
        if given is not None:
            return given
        from pyspark.sql.types import StructType

        sample = spark.read.format(self.record_format).options(**self.reader_options())
        inferred = sample.load(str(self.directory)).schema
        return StructType([f for f in inferred.fields if f.name != "_corrupt_record"]).toDDL()

    def dstream(self, ssc: StreamingContext, ctx: SourceContext) -> DStream[Any]:
        """Lines (``str``), or ``dict`` rows of the schema; unreadable lines as ``DeadLetter``."""
        from pyspark.sql import SparkSession

        self.directory.mkdir(parents=True, exist_ok=True)
        state = ctx.state_dir / self.name
        planner = DirectoryPlanner(str(self.directory), str(state / "plans.jsonl"), self.max_files)
        schema = self.schema(SparkSession.builder.getOrCreate())
        reader = _FileReader(
            planner, self.record_format, schema, self._parse_options(), self.address.location
        )
        return planned_stream(ssc, state, reader)

    def structured(self, spark: SparkSession, ctx: SourceContext) -> DataFrame:
        """The records (``value``, or the schema's columns), ``_dead_letter`` and ``_origin``."""
        from pyspark.sql import functions as F

        self.directory.mkdir(parents=True, exist_ok=True)
        selection = {
            k: v for k, v in self.reader_options().items() if k in _SELECTION_OPTIONS + _LINE_OPTIONS
        }
        reader = spark.readStream.format("text").options(**selection, **_EXACT_FILES)
        if self.header:
            reader = reader.option("wholetext", "true")
        lines = reader.load(str(self.directory)).select("value", F.col("_metadata.file_path").alias("_file"))
        return file_records(
            lines,
            self.record_format,
            self.schema(spark),
            self._parse_options(),
            self.address.location,
            self.header,
        )
