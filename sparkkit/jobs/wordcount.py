"""wordcount: the words of each batch counted on their own (stateless, like Spark's network word count).

Words are whitespace-separated tokens, exactly as Python's ``str.split()`` makes them, case kept.
Output rows: ``batch_time, word, count``; summing ``count`` by word over all batches gives each
word's total in the input.
"""

from __future__ import annotations

from operator import add
from typing import TYPE_CHECKING

from sparkkit.config import JobConfig
from sparkkit.jobs.base import Job, StructuredPlan

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType
    from pyspark.streaming import DStream

#: Java regex matching exactly the characters for which Python's ``str.isspace()`` is true:
#: Unicode White_Space plus the ASCII separators U+001C..U+001F.
WHITESPACE_REGEX = r"(?U)[\s\x{1C}-\x{1F}]+"


def split_words(line: str) -> list[str]:
    return line.split()


def one(word: str) -> tuple[str, int]:
    return (word, 1)


def count_words(df: DataFrame) -> DataFrame:
    return df.groupBy("word").count()


class WordCount(Job):
    name = "wordcount"
    summary = "count the words of each batch (stateless); rows batch_time, word, count"

    def output_schema(self) -> StructType:
        from pyspark.sql.types import LongType, StringType, StructField, StructType

        return StructType([StructField("word", StringType()), StructField("count", LongType())])

    def dstream(self, stream: DStream[str], config: JobConfig) -> DStream[tuple[str, int]]:
        return stream.flatMap(split_words).map(one).reduceByKey(add)

    def structured(self, stream: DataFrame, config: JobConfig) -> StructuredPlan:
        from pyspark.sql import functions as F

        words = stream.select(F.explode(F.split(F.col("value"), WHITESPACE_REGEX)).alias("word"))
        return StructuredPlan(words.where(F.col("word") != ""), per_batch=count_words)
