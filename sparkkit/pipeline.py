"""The pipeline file: streams and standing queries, read and checked before Spark starts.

A pipeline is the stream processor's whole configuration (``sparkkit run streams --pipeline
FILE``)::

    [pipeline]
    name = "shop"                  # default: the file's stem
    batch_interval = "2s"          # every query's trigger unless it sets its own

    [streams.clicks]
    source = "file:///data/clicks?format=json"
    schema = "user STRING, page STRING, ts TIMESTAMP"
    event_time = "ts"              # default arrival_time: the time of the record's micro-batch
    watermark = "10s"              # needs event_time
    archive = true                 # every record once, in Parquet under ARCHIVE/clicks
    working = "5m"                 # bound of the working storage view: a duration or "N rows"

    [queries.page_views]
    sql = "SELECT ... FROM clicks ..."
    output = "json:///data/out/page_views"   # default memory://page_views
    mode = "append"                # append | update | complete

Everything here is plain data: no Spark object, so a wrong file fails in milliseconds with
the key's name, the value and what is accepted (exit code 2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tomllib

from sparkkit.addresses import SINK_FORMS, SOURCE_FORMS, Address, parse_sink, parse_source
from sparkkit.approx import DEFAULT_LG_CONFIG_K, BoundColumn, approximate
from sparkkit.config import closest, find_conf_dir, one_line, spelt
from sparkkit.duration import ACCEPTED as DURATION_ACCEPTED
from sparkkit.duration import Duration
from sparkkit.errors import ConfigError, UnknownOptionError
from sparkkit.sinks import Sink, sink_for
from sparkkit.sources import Source, source_for

#: Columns the archive adds to every stream's own; a stream's schema may not use these names.
ARCHIVE_COLUMNS = ("origin", "arrival_time", "arrival_date")
#: Names a query may not take: they are directories beside the queries' checkpoints.
RESERVED_NAMES = ("archive",)
MODES = ("append", "update", "complete")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ROWS = re.compile(r"^\s*(\d{1,12})\s+rows?\s*$")
_PIPELINE_KEYS = ("name", "batch_interval")
_STREAM_KEYS = ("source", "schema", "event_time", "watermark", "archive", "working", "sample")
_QUERY_KEYS = ("sql", "output", "mode", "batch_interval", "approx", "lg_config_k")
_MAX_SAMPLE = 1_000_000
#: Spark's data type names (the first word of a column's type in a DDL schema).
DDL_TYPES = frozenset((
    "STRING", "VARCHAR", "CHAR", "CHARACTER", "BOOLEAN", "TINYINT", "BYTE", "SMALLINT", "SHORT", "INT",
    "INTEGER", "BIGINT", "LONG", "FLOAT", "REAL", "DOUBLE", "DECIMAL", "DEC", "NUMERIC", "DATE",
    "TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIME", "INTERVAL", "BINARY", "VOID", "VARIANT",
    "ARRAY", "MAP", "STRUCT", "GEOMETRY", "GEOGRAPHY",
))  # fmt: skip
_DDL_COLUMN = re.compile(r"(`[^`]+`|[A-Za-z0-9_]+)\s*:?\s*([A-Za-z_]*)(.*)", re.S)
#: The columns of a ``generator://...?format=json`` stream.
GENERATOR_JSON_SCHEMA = "key STRING, seq BIGINT, value DOUBLE, ts TIMESTAMP"


@dataclass(frozen=True)
class WorkingBound:
    """How much of a stream its working-storage view keeps: a time span or a number of rows."""

    span: Duration | None = None
    rows: int | None = None

    def __str__(self) -> str:
        return f"{self.rows} rows" if self.rows is not None else str(self.span)


@dataclass(frozen=True)
class StreamSpec:
    """One ``[streams.NAME]`` table."""

    name: str
    source: Source
    schema: str | None
    event_time: str | None
    watermark: Duration | None
    archive: bool
    working: WorkingBound | None
    sample: int | None = None

    @property
    def columns(self) -> list[str]:
        """The stream's own column names (before the archive's)."""
        if self.source.record_format == "text":
            return ["value"]
        return ddl_names(self.schema or "")

    def describe(self) -> dict[str, str]:
        """What shapes the state of a query that reads this stream (for its manifest)."""
        return {
            "source": self.source.address.canonical,
            "schema": self.schema or "",
            "event_time": self.event_time or "arrival_time",
            "watermark": str(self.watermark) if self.watermark else "",
            "archive": str(self.archive).lower(),
        }


@dataclass(frozen=True)
class QuerySpec:
    """One ``[queries.NAME]`` table."""

    name: str
    sql: str
    output: Sink
    mode: str
    batch_interval: Duration
    streams: tuple[str, ...]
    written_sql: str = ""
    bounds: tuple[BoundColumn, ...] = ()

    @property
    def approx(self) -> bool:
        """Does the query approximate (``approx = true``)? Then ``sql`` is ``written_sql`` rewritten."""
        return self.sql != self.written_sql and bool(self.written_sql)


@dataclass(frozen=True)
class Pipeline:
    """A whole pipeline file."""

    name: str
    path: Path
    batch_interval: Duration
    streams: dict[str, StreamSpec] = field(default_factory=dict)
    queries: dict[str, QuerySpec] = field(default_factory=dict)


def ddl_names(ddl: str) -> list[str]:
    """The top-level column names of a DDL schema such as ``a STRING, b STRUCT<x: INT, y: INT>``."""
    return [name for name, _ in ddl_columns(ddl)]


def _ddl_depths(ddl: str) -> tuple[list[int | None], bool]:
    """The bracket depth at each character of ``ddl`` (None inside quotes or backticks), and
    whether a quote is left open."""
    depths: list[int | None] = []
    depth, quote = 0, ""
    for char in ddl:
        if quote or char in "'\"`":
            quote = "" if char == quote else quote or char
            depths.append(None)
        else:
            depth += (char in "<(") - (char in ">)")
            depths.append(depth)
    return depths, bool(quote)


def _ddl_items(ddl: str) -> list[str]:
    """The top-level comma-separated items of a DDL schema, stripped (empty ones kept)."""
    items, start = [], 0
    depths, _ = _ddl_depths(ddl)
    for i, depth in enumerate([*depths, 0]):
        if depth == 0 and (i == len(ddl) or ddl[i] == ","):
            items.append(ddl[start:i].strip())
            start = i + 1
    return items


def ddl_columns(ddl: str) -> list[tuple[str, str]]:
    """(name, type) of each top-level column of a DDL schema; the type as written, upper case."""
    columns = []
    for item in _ddl_items(ddl):
        column = _DDL_COLUMN.fullmatch(item)
        if column:
            columns.append((column.group(1).strip("`"), (column.group(2) + column.group(3)).strip().upper()))
        elif item:
            name, _, kind = item.partition(" ")
            columns.append((name.rstrip(":"), kind.strip().upper()))
    return columns


def ddl_problem(ddl: str) -> str | None:
    """What is wrong with a DDL schema such as ``user STRING, ts TIMESTAMP``, or None.

    A light check before Spark parses it: each column a name and a known type, brackets balanced,
    no name twice (Spark's names ignore case).
    """
    depths, open_quote = _ddl_depths(ddl)
    if open_quote:
        return "closed quotes"
    known = [d for d in depths if d is not None]
    if min(known, default=0) < 0 or (known and known[-1]):
        return "balanced < > and ( )"
    seen: set[str] = set()
    for item in _ddl_items(ddl):
        column = _DDL_COLUMN.fullmatch(item)
        if not column or not column.group(2):
            shown = one_line(item) if item else "an empty column"
            return f"columns written NAME TYPE, separated by commas ({shown} is not)"
        name, kind = column.group(1).strip("`"), column.group(2).upper()
        if kind not in DDL_TYPES:
            guess = closest(kind, DDL_TYPES)
            hint = f"did you mean {guess}?" if guess else "e.g. STRING, BIGINT, DOUBLE, TIMESTAMP"
            return f"Spark data types ({kind} is not one; {hint})"
        if name.lower() in seen:
            return f"each column named once ({name} is there twice)"
        seen.add(name.lower())
    return None


def streams_in(sql: str, names: list[str]) -> tuple[str, ...]:
    """The stream names that ``sql`` mentions as whole words (what its state depends on)."""
    text = re.sub(r"'[^']*'", "''", sql)  # not inside string literals
    return tuple(n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", text, re.IGNORECASE))


class _Table:
    """One TOML table being read: errors name ``[table] key`` and the file."""

    def __init__(self, title: str, data: Any, origin: str, accepted: tuple[str, ...]) -> None:
        self.title, self.origin = one_line(title), origin
        if not isinstance(data, Mapping):
            raise ConfigError(f"[{self.title}]", one_line(data), "a table of keys", origin)
        for key in data:
            if key not in accepted:
                guess = closest(key, accepted)
                hint = f"did you mean {guess}?" if guess else f"accepted: {', '.join(accepted)}"
                raise UnknownOptionError(f"[{self.title}] {spelt(key)}", guess, origin, hint)
        self.data = data

    def error(self, key: str, value: Any, accepted: str) -> ConfigError:
        return ConfigError(f"[{self.title}] {key}", one_line(value), accepted, self.origin)

    def address(self, key: str, text: str, parse: Any, forms: str) -> Address:
        """``text`` parsed as a source or sink address, its errors naming ``[table] key``."""
        try:
            parsed: Address = parse(text, f"[{self.title}] {key}")
        except ConfigError as exc:
            raise self.error(key, text, exc.accepted) from None
        except ValueError:  # urllib's refusal of a malformed host, such as [::1
            raise self.error(key, text, f"expected an address such as {forms}") from None
        return parsed

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.error(key, value, "a non-empty string")
        return value

    def duration(self, key: str) -> Duration | None:
        value = self.data.get(key)
        if value is None:
            return None
        try:
            return Duration.parse(value)
        except ValueError:
            raise self.error(key, value, DURATION_ACCEPTED) from None


def _name(kind: str, name: str, origin: str, default: bool = False) -> str:
    if not _NAME.fullmatch(name):
        option = "[pipeline] name" if kind == "pipeline" else f"[{kind}.{spelt(name)}]"
        accepted = "a name of letters, digits and _ (it becomes a SQL view)"
        if default:
            accepted += "; the file's name is the default, so set name in [pipeline]"
        raise ConfigError(option, one_line(name), accepted, origin)
    if kind == "queries" and name.lower() in RESERVED_NAMES:
        raise ConfigError(
            f"[{kind}.{name}]", name, f"a name other than {' and '.join(RESERVED_NAMES)}", origin
        )
    return name


def _unique(kind: str, names: list[str], taken: dict[str, str], origin: str) -> None:
    """Refuse a name already ``taken`` (lower case -> whose), in any case: SQL names ignore case."""
    for name in names:
        owner = taken.get(name.lower())
        if owner is not None:
            which = "no stream has" if kind == "queries" and owner.startswith("[streams.") else "of its own"
            accepted = f"a name {which} ({owner} has it; both become views, whose names ignore case)"
            raise ConfigError(f"[{kind}.{name}]", name, accepted, origin)
        taken[name.lower()] = f"[{kind}.{name}]"


def _source(table: _Table, name: str) -> tuple[Source, str | None]:
    """The stream's source, its schema placed in the address for readers that take one."""
    address = table.text("source")
    if address is None:
        raise table.error("source", "", "a source address, e.g. file:///data/in?format=json")
    schema = table.text("schema")
    parsed = table.address("source", address, parse_source, SOURCE_FORMS)
    fmt = parsed.params.get("format", "text")
    if parsed.scheme == "generator":
        if fmt == "json":
            if schema not in (None, GENERATOR_JSON_SCHEMA):
                raise table.error(
                    "schema", schema, f"none: a JSON generator's schema is {GENERATOR_JSON_SCHEMA}"
                )
            schema = GENERATOR_JSON_SCHEMA
    elif fmt in ("json", "csv"):
        schema = schema or parsed.params.get("schema")
        if schema is None:
            raise table.error(
                "schema", "", f"a DDL schema for a format={fmt} stream, e.g. user STRING, ts TIMESTAMP"
            )
        if "schema" not in parsed.params:
            address += ("&" if "?" in address else "?") + "schema=" + quote(schema)
    if fmt == "text" and schema not in (None, "value STRING"):
        raise table.error("schema", schema, "none: a text stream has one column, value STRING")
    problem = ddl_problem(schema) if schema is not None else None
    if problem:
        raise table.error("schema", schema, f"a DDL schema such as user STRING, ts TIMESTAMP: {problem}")
    source = source_for(table.address("source", address, parse_source, SOURCE_FORMS))
    try:
        source.check()
    except ConfigError as exc:  # the source names its option as the command line does
        raise table.error("source", address, exc.accepted) from None
    return source, schema


def _working(table: _Table) -> WorkingBound | None:
    value = table.data.get("working")
    if value is None:
        return None
    accepted = 'a duration such as "5m", or a number of rows such as "10000 rows"'
    match = _ROWS.match(value) if isinstance(value, str) else None
    if match:
        rows = int(match.group(1))
        if rows < 1:
            raise table.error("working", value, accepted)
        return WorkingBound(rows=rows)
    try:
        span = Duration.parse(value)
    except ValueError:
        raise table.error("working", value, accepted) from None
    if span.ms == 0:
        raise table.error("working", value, accepted)
    return WorkingBound(span=span)


def _stream(name: str, data: Any, origin: str) -> StreamSpec:
    table = _Table(f"streams.{name}", data, origin, _STREAM_KEYS)
    source, schema = _source(table, name)
    spec = StreamSpec(name, source, schema, table.text("event_time"), table.duration("watermark"),
                      True, _working(table))  # fmt: skip
    archive = table.data.get("archive", True)
    if not isinstance(archive, bool):
        raise table.error("archive", archive, "true or false")
    if not archive and source.address.scheme == "socket":
        raise table.error(
            "archive",
            archive,
            "true for a socket stream: it cannot be replayed, so it is read once into the archive",
        )
    columns = spec.columns
    for column in columns:
        if column in ARCHIVE_COLUMNS:
            raise table.error(
                "schema", schema, f"no column named {column}: the archive adds {', '.join(ARCHIVE_COLUMNS)}"
            )
    if spec.event_time is not None and spec.event_time not in [*columns, "arrival_time"]:
        accepted = ", ".join([*columns, "arrival_time"])
        raise table.error("event_time", spec.event_time, f"one of the stream's columns: {accepted}")
    kinds = dict(ddl_columns(schema or "")) if source.record_format != "text" else {}
    kind = kinds.get(spec.event_time or "", "TIMESTAMP")
    if spec.event_time is not None and not kind.startswith(("TIMESTAMP", "DATE")):
        raise table.error("event_time", spec.event_time, f"a TIMESTAMP column ({spec.event_time} is {kind})")
    if spec.watermark is not None and spec.event_time is None:
        raise table.error(
            "watermark", str(spec.watermark), "set with event_time (a watermark is on event time)"
        )
    sample = table.data.get("sample")
    if sample is not None and (
        isinstance(sample, bool) or not isinstance(sample, int) or not 0 < sample <= _MAX_SAMPLE
    ):
        raise table.error("sample", sample, f"a number of records, 1 to {_MAX_SAMPLE}")
    return StreamSpec(name, source, schema, spec.event_time, spec.watermark, archive, spec.working, sample)


def _query(name: str, data: Any, origin: str, default_interval: Duration, streams: list[str]) -> QuerySpec:
    table = _Table(f"queries.{name}", data, origin, _QUERY_KEYS)
    sql = table.text("sql")
    if sql is None:
        raise table.error("sql", "", "a SELECT over the pipeline's streams")
    read = streams_in(sql, streams)
    if not read:
        raise table.error(
            "sql",
            " ".join(sql.split())[:80],
            f"a query that reads at least one of the streams: {', '.join(streams)}",
        )
    mode = table.text("mode", "append")
    if mode not in MODES:
        raise table.error("mode", mode, " | ".join(MODES))
    address = table.text("output", f"memory://{name}") or ""
    if address.startswith("memory://") and mode == "complete" and "keep=" not in address:
        address += ("&" if "?" in address else "?") + "keep=1"  # each batch is the whole answer
    output = sink_for(table.address("output", address, parse_sink, SINK_FORMS))
    try:
        output.check()
    except ConfigError as exc:
        raise table.error("output", address, exc.accepted) from None
    interval = table.duration("batch_interval") or default_interval
    if interval.ms == 0:
        raise table.error("batch_interval", str(interval), "a duration above 0")
    approx = table.data.get("approx", False)
    if not isinstance(approx, bool):
        raise table.error("approx", approx, "true or false")
    lg_config_k = table.data.get("lg_config_k", DEFAULT_LG_CONFIG_K)
    if "lg_config_k" in table.data and not approx:
        raise table.error("lg_config_k", lg_config_k, "set with approx = true (it sizes its HLL sketches)")
    if isinstance(lg_config_k, bool) or not isinstance(lg_config_k, int) or not 4 <= lg_config_k <= 21:
        raise table.error("lg_config_k", lg_config_k, "a whole number 4 to 21 (HLL sketches of 2^k buckets)")
    approximated = approximate(sql, lg_config_k, f"[{table.title}] sql") if approx else None
    return QuerySpec(
        name,
        approximated.sql if approximated else sql,
        output,
        mode or "append",
        interval,
        read,
        sql,
        approximated.bounds if approximated else (),
    )


def _check_outputs(pipeline: Pipeline, origin: str) -> None:
    """Every view (``global_temp.NAME``: working storage, samples, memory outputs) and every output
    directory belongs to one owner, and no view takes a name of a query's state views; view names
    ignore case (a file sink names its batches by query run, not by query)."""
    taken: dict[tuple[str, str], str] = {}

    def claim(option: str, value: str, kind: str, place: str, owner: str) -> None:
        key = (kind, place.lower() if kind == "memory" else place)
        state = next((q for q in pipeline.queries if key[1].startswith(f"{q.lower()}_state")), None)
        if kind == "memory" and state is not None:
            accepted = f"a view name not starting {state}_state (that shows query {state}'s state)"
            raise ConfigError(option, one_line(value), accepted, origin)
        if key in taken:
            raise ConfigError(option, one_line(value), f"a place of its own: {taken[key]} is there", origin)
        taken[key] = owner

    for stream in pipeline.streams.values():
        if stream.working:
            working = f"[streams.{stream.name}] working"
            claim(
                working, str(stream.working), "memory", stream.name, f"stream {stream.name}'s working storage"
            )
        if stream.sample:
            sample, view = f"[streams.{stream.name}] sample", f"{stream.name}_sample"
            claim(sample, str(stream.sample), "memory", view, f"stream {stream.name}'s sample")
    for spec in pipeline.queries.values():
        address = spec.output.address
        if address.scheme in ("memory", "json", "parquet"):
            kind = "memory" if address.scheme == "memory" else "files"
            claim(
                f"[queries.{spec.name}] output",
                address.raw,
                kind,
                address.path,
                f"query {spec.name}'s output",
            )


def default_pipeline() -> Path:
    """``conf/jobs/streams.toml``: three generator streams and the standing queries that show the model."""
    return find_conf_dir() / "jobs" / "streams.toml"


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and check a pipeline file; raise :class:`ConfigError` (exit 2) on anything wrong."""
    path = Path(path)
    origin = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
        raise ConfigError("--pipeline", path, f"a readable pipeline file (TOML): {reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--pipeline", path, f"valid TOML: {exc}") from None
    for key in data:
        if key not in ("pipeline", "streams", "queries"):
            accepted = "tables [pipeline], [streams.NAME] and [queries.NAME]"
            raise ConfigError(f"[{spelt(key)}]", "", accepted, origin)
    head = _Table("pipeline", data.get("pipeline", {}), origin, _PIPELINE_KEYS)
    name = _name("pipeline", head.text("name", path.stem) or path.stem, origin, "name" not in head.data)
    interval = head.duration("batch_interval") or Duration(2000)
    if interval.ms == 0:
        raise head.error("batch_interval", str(interval), "a duration above 0")
    tables = {}
    for kind in ("streams", "queries"):
        given = data.get(kind, {})
        tables[kind] = _Table(kind, given, origin, tuple(given) if isinstance(given, Mapping) else ())
    streams_data, queries_data = tables["streams"], tables["queries"]
    if not streams_data.data:
        raise ConfigError("[streams]", "", "at least one [streams.NAME] table", origin)
    taken: dict[str, str] = {}  # SQL names, which ignore case: streams and queries both become views
    _unique("streams", [_name("streams", n, origin) for n in streams_data.data], taken, origin)
    streams = {n: _stream(n, d, origin) for n, d in streams_data.data.items()}
    _unique("queries", [_name("queries", n, origin) for n in queries_data.data], taken, origin)
    queries = {n: _query(n, d, origin, interval, list(streams)) for n, d in queries_data.data.items()}
    pipeline = Pipeline(name, path.resolve(), interval, streams, queries)
    _check_outputs(pipeline, origin)
    return pipeline
