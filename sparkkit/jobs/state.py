"""Shared pieces of the stateful jobs: state-store configuration, DStream checkpoint intervals."""

from __future__ import annotations

from sparkkit.config import JobConfig
from sparkkit.duration import Duration
from sparkkit.errors import ConfigError

STATE_STORE_PROVIDERS = {
    "rocksdb": "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
    "hdfs": "org.apache.spark.sql.execution.streaming.state.HDFSBackedStateStoreProvider",
}


#: The RocksDB state stores' shared memory budget (Spark's default is 500).
ROCKSDB_MEMORY_MB = 256


def state_store_conf(store: str) -> dict[str, str]:
    """Spark's RocksDB provider with changelog checkpointing, or the HDFS-backed one."""
    conf = {"spark.sql.streaming.stateStore.providerClass": STATE_STORE_PROVIDERS[store]}
    if store == "rocksdb":
        conf["spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled"] = "true"
        # one memory budget for every RocksDB instance of the process (block cache and memtables),
        # instead of memory that grows with the number of state store partitions
        conf["spark.sql.streaming.stateStore.rocksdb.boundedMemoryUsage"] = "true"
        conf["spark.sql.streaming.stateStore.rocksdb.maxMemoryUsageMB"] = str(ROCKSDB_MEMORY_MB)
    return conf


def require_rocksdb(config: JobConfig, what: str) -> None:
    """``transformWithStateInPandas`` runs only on Spark's RocksDB state store."""
    if config.state_store != "rocksdb":
        raise ConfigError(
            "--state-store", config.state_store,
            f"{what} needs rocksdb (transformWithStateInPandas runs only on the RocksDB state store)",
            config.origins.get("state_store", ""),
        )  # fmt: skip


def require_checkpoint(config: JobConfig, job: str) -> None:
    if not config.checkpoint:
        raise ConfigError("--checkpoint", "", f"{job} keeps state and needs --checkpoint DIR")


def dstream_checkpoint_interval(config: JobConfig, slide: Duration) -> Duration:
    """The state checkpoint interval: ``--checkpoint-interval`` (a multiple of ``slide``), else
    5x the batch interval rounded up to a multiple of ``slide``."""
    if config.checkpoint_interval is not None:
        if not config.checkpoint_interval.is_multiple_of(slide):
            raise ConfigError(
                "--checkpoint-interval",
                str(config.checkpoint_interval),
                f"must be a multiple of the state stream's slide {slide} for {config.job}",
                config.origins.get("checkpoint_interval", ""),
            )
        return config.checkpoint_interval
    wanted = config.batch_interval.ms * 5
    return Duration(-(-wanted // slide.ms) * slide.ms)
