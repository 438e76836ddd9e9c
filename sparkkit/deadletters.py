"""Dead letters: input records that cannot be read are kept, with where they came from and why.

A source that can meet malformed input marks it instead of dropping or mangling it: in a DStream
as :class:`DeadLetter` elements, in a streaming DataFrame as a non-null ``_dead_letter`` struct
column. The runner splits them off before the job sees its input and writes them through the
run's dead-letter sink (:mod:`sparkkit.deadletter_writer`). This module holds what sources need,
so it imports no sink.

What is a record, and what is a bad one (Spark's PERMISSIVE rules, the same in both APIs):

- **text**: every line is a record, an empty one too (as Spark's text source reads it); lines
  end at LF, CRLF or CR. A line that is not valid UTF-8 is :data:`INVALID_UTF8`. NUL bytes and
  long lines are ordinary text. (A socket's lines are decoded by Spark's receiver before
  sparkkit sees them: invalid bytes arrive as U+FFFD, in a good record.)
- **json**: one JSON object per line; lines of nothing but spaces and tabs are not records
  (Spark's JSON reader skips them). Not UTF-8: :data:`INVALID_UTF8`; not a JSON object (broken
  syntax, an array, a number, a string, ``null``, a raw control character in a string):
  :data:`NOT_JSON`; an object with a field that does not convert to its schema type (``"n":
  "x"`` for ``n INT``, a number too large): :data:`WRONG_TYPE`. A missing field, or ``null``,
  is null in a good record; fields not in the schema are ignored. Spark's parser also accepts
  single-quoted strings and ignores text after the object.
- **csv**: one row per line; lines of nothing but whitespace or control characters (and with
  ``comment=C`` lines starting with C) are not records, nor with ``header=true`` is each
  file's first record. Not UTF-8: :data:`INVALID_UTF8`; a row with more or fewer fields than
  the schema has columns (an unclosed quote makes one field): :data:`FIELD_COUNT`; a field
  that does not parse as its column's type: :data:`WRONG_TYPE`.

A Kafka record is one value (not split into lines: an empty value is a record; a null value,
a tombstone, is none). Every input record is either a good record or a dead letter, never both.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from sparkkit.origin import origin_fields

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructType

COLUMN = "_dead_letter"
SCHEMA = (
    "source STRING, topic STRING, partition INT, offset BIGINT, file STRING, "
    "reason STRING, value STRING, value_base64 STRING"
)
INVALID_UTF8 = "value is not valid UTF-8"
NOT_JSON = "value is not a JSON object"
WRONG_TYPE = "a field does not fit its type in the schema"
FIELD_COUNT = "row does not have one field per column of the schema"
#: Options that would stop a parser from marking malformed input: sparkkit sets them itself.
_PARSE_MODE_OPTIONS = ("mode", "columnNameOfCorruptRecord")
_CORRUPT = "_corrupt_record"


class DeadLetter(NamedTuple):
    """One unreadable record: its origin (Kafka position or file), the reason, and its bytes.

    ``value`` is the bytes decoded with replacement characters, for reading; ``value_base64``
    holds them exactly.
    """

    source: str
    topic: str | None
    partition: int | None
    offset: int | None
    file: str | None
    reason: str
    value: str
    value_base64: str


def is_dead_letter(record: Any) -> bool:
    return isinstance(record, DeadLetter)


def is_record(record: Any) -> bool:
    return not isinstance(record, DeadLetter)


def read_line(raw: bytes, source: str, topic: str, partition: int, offset: int) -> str | DeadLetter:
    """A Kafka value as a text line, or a :class:`DeadLetter` when it is not UTF-8 (the DStream's
    text values; JSON values go through :func:`parse_json_column`, as in Structured Streaming)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        reason = INVALID_UTF8
    encoded = base64.b64encode(raw).decode("ascii")
    return DeadLetter(source, topic, partition, offset, None, reason, raw.decode("utf-8", "replace"), encoded)


def dead_letter_column(
    raw: Column, reason: Column, source: str, topic: Column | None = None, partition: Column | None = None,
    offset: Column | None = None, file: Column | None = None,
) -> Column:  # fmt: skip
    """The ``_dead_letter`` struct for a streaming DataFrame: null where ``reason`` is null."""
    from pyspark.sql import functions as F

    letter = F.struct(
        *origin_fields(source, topic, partition, offset, file),
        reason.alias("reason"),
        raw.cast("string").alias("value"),
        F.base64(raw.cast("binary")).alias("value_base64"),
    )
    return F.when(reason.isNotNull(), letter)


def utf8_reason(raw: Column) -> Column:
    """:data:`INVALID_UTF8` where the bytes of ``raw`` (a string or binary column) are not UTF-8."""
    from pyspark.sql import functions as F

    return F.when(~F.is_valid_utf8(raw.cast("string")), F.lit(INVALID_UTF8))


def _with_corrupt(schema: str | StructType) -> StructType:
    """``schema`` (DDL or a StructType) with the corrupt-record column last."""
    from pyspark.sql.types import StringType, StructField, StructType

    fields = StructType.fromDDL(schema) if isinstance(schema, str) else schema
    assert isinstance(fields, StructType), schema
    kept = [f for f in fields.fields if f.name != _CORRUPT]
    return StructType([*kept, StructField(_CORRUPT, StringType())])


def _parser_options(options: Mapping[str, str] | None) -> dict[str, str]:
    given = {k: v for k, v in (options or {}).items() if k not in _PARSE_MODE_OPTIONS}
    return {**given, "mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}


def parse_json_column(
    df: DataFrame, text: Column, schema: str | StructType, options: Mapping[str, str] | None = None
) -> tuple[DataFrame, list[Column], Column]:
    """Parse JSON objects from the string column ``text``: (df, the schema's field columns, reason).

    ``reason`` is :data:`NOT_JSON` where ``text`` is not a JSON object, :data:`WRONG_TYPE` where
    it is one with a field that does not convert to the schema's type, else null. ``options``
    are Spark's JSON options (``timestampFormat``...); the parse mode is always PERMISSIVE.
    """
    from pyspark.sql import functions as F

    full = _with_corrupt(schema)
    parser = _parser_options(options)
    df = df.select("*", F.from_json(text, full, parser).alias("_record"))
    corrupt = F.col("_record").isNull() | F.col(f"_record.{_CORRUPT}").isNotNull()
    # only for a corrupt row (CASE WHEN evaluates lazily): is it an object at all?
    lenient = {k: v for k, v in parser.items() if k not in _PARSE_MODE_OPTIONS}
    is_object = F.from_json(text, "MAP<STRING, STRING>", lenient)
    reason = F.when(corrupt, F.when(is_object.isNull(), F.lit(NOT_JSON)).otherwise(F.lit(WRONG_TYPE)))
    fields = [F.col(f"_record.{f.name}") for f in full.fields if f.name != _CORRUPT]
    return df, fields, reason


def parse_csv_column(
    df: DataFrame, text: Column, schema: str | StructType, options: Mapping[str, str] | None = None
) -> tuple[DataFrame, list[Column], Column]:
    """Parse CSV rows from the string column ``text``: (df, the schema's field columns, reason).

    ``reason`` is :data:`FIELD_COUNT` where the row has more or fewer fields than the schema has
    columns, :data:`WRONG_TYPE` where a field does not parse as its column's type, else null.
    ``options`` are Spark's CSV options (``sep``, ``nullValue``...); the mode is PERMISSIVE.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    full = _with_corrupt(schema)
    parser = _parser_options(options)
    df = df.select("*", F.from_csv(text, full.toDDL(), parser).alias("_record"))
    corrupt = F.col(f"_record.{_CORRUPT}").isNotNull()
    # a row of strings fails only on its number of fields
    strings = StructType([StructField(f"c{i}", StringType()) for i in range(len(full) - 1)])
    as_strings = F.from_csv(text, _with_corrupt(strings).toDDL(), parser)
    wrong_count = as_strings[_CORRUPT].isNotNull()
    reason = F.when(corrupt, F.when(wrong_count, F.lit(FIELD_COUNT)).otherwise(F.lit(WRONG_TYPE)))
    fields = [F.col(f"_record.{f.name}") for f in full.fields if f.name != _CORRUPT]
    return df, fields, reason


def split_dead_letters(df: DataFrame) -> tuple[DataFrame, DataFrame | None]:
    """(records, dead letters) of a DataFrame; no dead letters when no source can make them."""
    from pyspark.sql import functions as F

    if COLUMN not in df.columns:
        return df, None
    records = df.where(F.col(COLUMN).isNull()).drop(COLUMN)
    return records, df.where(F.col(COLUMN).isNotNull()).select(f"{COLUMN}.*")
