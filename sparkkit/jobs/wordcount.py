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
from sparkkit.jobs.keys import dstream_key_counts, structured_keys

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.streaming import DStream


def count_words(df: DataFrame) -> DataFrame:
    return df.groupBy("word").count()


class WordCount(Job):
    name = "wordcount"
    summary = "count the words of each batch (stateless); rows batch_time, word, count"
    columns = (("word", "string"), ("count", "bigint"))

    def dstream(self, stream: DStream[str], config: JobConfig) -> DStream[tuple[str, int]]:
        return dstream_key_counts(stream, config).reduceByKey(add)

    def structured(self, stream: DataFrame, config: JobConfig) -> StructuredPlan:
        words = structured_keys(stream, config).select("key")
        return StructuredPlan(words.withColumnRenamed("key", "word"), per_batch=count_words)
