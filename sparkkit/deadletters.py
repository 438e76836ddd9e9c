"""Dead letters: input records that cannot be read are kept, with where they came from and why.

A source that can meet malformed input (Kafka values that are not UTF-8, or not JSON for a JSON
job; JSON lines that do not parse in files) marks them instead of dropping or mangling them:
in a DStream as :class:`DeadLetter` elements, in a streaming DataFrame as a non-null
``_dead_letter`` struct column. The runner splits them off before the job sees its input and
writes them through the run's dead-letter sink (:mod:`sparkkit.deadletter_writer`). This module
holds what sources need, so it imports no sink.
"""

from __future__ import annotations

import base64
import json
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


def parse_json_object(text: str) -> dict[str, Any] | None:
    """One JSON object, or None when ``text`` is not one."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_value(
    raw: bytes, fmt: str, source: str, topic: str | None = None, partition: int | None = None,
    offset: int | None = None, file: str | None = None,
) -> Any:  # fmt: skip
    """A record's bytes as a text line or a JSON object, or a :class:`DeadLetter` saying why not."""
    reason = None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        reason = INVALID_UTF8
    else:
        if fmt != "json":
            return text
        parsed = parse_json_object(text)
        if parsed is not None:
            return parsed
        reason = NOT_JSON
    encoded = base64.b64encode(raw).decode("ascii")
    return DeadLetter(source, topic, partition, offset, file, reason, raw.decode("utf-8", "replace"), encoded)


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


def parse_json_column(
    df: DataFrame, text: Column, schema: str | StructType
) -> tuple[DataFrame, list[Column], Column]:
    """Parse JSON objects from the string column ``text``: (df, the schema's field columns, reason).

    ``reason`` is :data:`NOT_JSON` where ``text`` is not a JSON object of the schema, else null.
    """
    from pyspark.sql import functions as F

    corrupt = "_corrupt_record"
    if isinstance(schema, str):
        schema = f"{schema}, {corrupt} STRING"
    elif corrupt not in schema.fieldNames():
        schema = schema.add(corrupt, "string")
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": corrupt}
    df = df.select("*", F.from_json(text, schema, options).alias("_record"))
    reason = F.when(F.col("_record").isNull() | F.col(f"_record.{corrupt}").isNotNull(), F.lit(NOT_JSON))
    fields = [F.col(f"_record.{name}") for name in df.select("_record.*").columns if name != corrupt]
    return df, fields, reason


def split_dead_letters(df: DataFrame) -> tuple[DataFrame, DataFrame | None]:
    """(records, dead letters) of a DataFrame; no dead letters when no source can make them."""
    from pyspark.sql import functions as F

    if COLUMN not in df.columns:
        return df, None
    records = df.where(F.col(COLUMN).isNull()).drop(COLUMN)
    return records, df.where(F.col(COLUMN).isNotNull()).select(f"{COLUMN}.*")
