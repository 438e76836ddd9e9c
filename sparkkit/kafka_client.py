"""What the Kafka source and sink share: client options, and whether Spark's own connector is here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

NATIVE_PROVIDER = "org.apache.spark.sql.kafka010.KafkaSourceProvider"


def client_options(options: dict[str, str]) -> dict[str, Any]:
    """``kafka.security.protocol`` -> ``security_protocol``: the kafka-python keyword arguments."""
    return {k[len("kafka.") :].replace(".", "_"): v for k, v in options.items() if k.startswith("kafka.")}


def native_connector(spark: SparkSession) -> bool:
    """Is Spark's own Kafka connector (spark-sql-kafka-0-10) on the classpath?"""
    try:
        spark.sparkContext._jvm.java.lang.Class.forName(NATIVE_PROVIDER)  # type: ignore[union-attr]
        return True
    except Exception:
        return False
