"""The checkpoint manifest: a restart with other state-shaping options is refused, by name."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from sparkkit.checkpoint import (
    CheckpointLayout,
    Manifest,
    _lz4_block,
    _lz4_stream,
    _xxh32,
    check_restart,
    check_versions,
    inspect,
    read_manifest,
    record_batch,
    reset,
    unwritable,
    verify,
    write_manifest,
)
from sparkkit.errors import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointVersionError,
    JobFailedError,
)


def manifest(**state: str) -> Manifest:
    return Manifest("windowed_counts", "dstream", {"source": "generator://a", **state}, "0.1.0", "4.3.0")


def test_layout_is_root_job_query(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "wordcount")
    assert layout.path == tmp_path / "wordcount" / "main"
    assert CheckpointLayout.at(layout.path) == layout


def test_fresh_directory_starts_and_same_options_resume(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "windowed_counts")
    assert check_restart(layout, manifest(window="10s")) is None
    write_manifest(layout, manifest(window="10s"))
    resumed = check_restart(layout, manifest(window="10s"))
    assert resumed is not None and resumed.state["window"] == "10s"


def test_changed_window_is_refused_naming_option_and_reset_command(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "windowed_counts")
    write_manifest(layout, manifest(window="10s", slide="2s"))
    with pytest.raises(CheckpointMismatchError) as info:
        check_restart(layout, manifest(window="20s", slide="2s"))
    message = str(info.value)
    assert "--window: checkpoint has '10s', this run has '20s'" in message
    assert "--slide" not in message
    assert f"sparkkit checkpoint reset {layout.path}" in message
    assert info.value.exit_code == 2


def test_every_difference_is_listed(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "windowed_counts")
    write_manifest(layout, manifest(window="10s"))
    changed = Manifest(
        "windowed_counts", "structured", {"source": "generator://b", "window": "10s"}, "0.1.0", "4.3.0"
    )
    with pytest.raises(CheckpointMismatchError) as info:
        check_restart(layout, changed)
    assert "--api: checkpoint has 'dstream', this run has 'structured'" in str(info.value)
    assert "--source: checkpoint has 'generator://a', this run has 'generator://b'" in str(info.value)


def test_foreign_non_empty_directory_is_refused(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "wordcount")
    layout.path.mkdir(parents=True)
    (layout.path / "checkpoint-1000").write_text("not ours")
    with pytest.raises(CheckpointError, match="no sparkkit manifest"):
        check_restart(layout, manifest())
    with pytest.raises(CheckpointError, match="not deleting"):
        reset(layout.path)
    assert reset(layout.path, force=True) == layout.path
    assert not layout.path.exists()


def test_inspect_reports_manifest_and_last_batch(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "windowed_counts")
    write_manifest(layout, manifest(window="10s"))
    (layout.path / "checkpoint-1700000005000").write_text("")
    (layout.path / "checkpoint-1700000004000.bk").write_text("")
    record_batch(layout, 1_700_000_005_000, None, 42)
    info = inspect(layout.path)
    assert info["manifest"]["state"]["window"] == "10s"
    assert info["last_written_batch"]["rows"] == 42
    assert info["last_checkpoint_time_ms"] == 1_700_000_005_000
    reset(layout.path)
    assert not layout.path.exists()


# -- corrupt files, versions, unwritable directories (real Spark checkpoints: tests/recovery/
#    test_checkpoint_faults.py) --


def structured_checkpoint(tmp_path: Path) -> CheckpointLayout:
    """A Structured checkpoint's files as Spark 4 writes them (no .crc files: not checked then)."""
    layout = CheckpointLayout(tmp_path, "wordcount")
    write_manifest(layout, Manifest("wordcount", "structured", {"source": "file:///in"}, "0.1.0", "4.3.0"))
    (layout.path / "offsets").mkdir()
    (layout.path / "commits").mkdir()
    for n in range(2):
        (layout.path / "offsets" / str(n)).write_text(f'v1\n{{"batchWatermarkMs":0}}\n{{"logOffset":{n}}}\n-')
    (layout.path / "commits" / "0").write_text('v1\n{"nextBatchWatermarkMs":0}')
    (layout.path / "metadata").write_text('{"id":"3813a8cd"}')
    return layout


@pytest.mark.parametrize(
    ("file", "content", "why"),
    [
        ("offsets/1", "", "truncated: empty"),
        ("offsets/1", "v1", "truncated: it ends on its first line"),
        ("offsets/1", "v1\n", "truncated: nothing after 'v1'"),
        ("offsets/1", 'v1\n{"batchWatermarkMs":0}\n{"logOff', "line 3 is not JSON"),
        ("offsets/1", 'x1\n{"batchWatermarkMs":0}', "no log version such as v1"),
        ("commits/0", 'v1\n{"nextBatch', "line 2 is not JSON"),
        ("commits/0", "v1\n[]", "line 2 is not a JSON object"),
        ("commits/2", 'v1\n{"nextBatchWatermarkMs":0}', "a commit with no offsets/ file of its batch"),
        ("metadata", '{"id":', "not Spark's query metadata"),
        ("sparkkit/manifest.json", '{"job": "wordcount", "api"', "not a sparkkit manifest"),
        ("sparkkit/manifest.json", "", "empty"),
        ("sparkkit/sources/gen/origin.json", '{"origin', "not a generator origin"),
    ],
)
def test_a_corrupt_file_is_refused_naming_it_and_the_reset_command(
    tmp_path: Path, file: str, content: str, why: str
) -> None:
    layout = structured_checkpoint(tmp_path)
    check_restart(layout, read_manifest(layout))  # type: ignore[arg-type]
    (layout.path / file).parent.mkdir(parents=True, exist_ok=True)
    (layout.path / file).write_text(content)
    with pytest.raises(CheckpointCorruptError) as info:
        check_restart(layout, manifest())
    message = str(info.value)
    assert message.startswith(f"checkpoint file {layout.path / file} is corrupt ({why}")
    assert message.endswith(f"sparkkit checkpoint reset {layout.path}")
    assert "\n" not in message and info.value.exit_code == 2


def test_a_checksum_file_catches_a_change_that_still_parses(tmp_path: Path) -> None:
    layout = structured_checkpoint(tmp_path)
    offsets = layout.path / "offsets" / "1"
    data = offsets.read_bytes()
    sums = b"".join(zlib.crc32(data[i : i + 4]).to_bytes(4, "big") for i in range(0, len(data), 4))
    offsets.with_name(".1.crc").write_bytes(b"crc\0" + (4).to_bytes(4, "big") + sums)
    verify(layout)
    offsets.write_bytes(data.replace(b'"logOffset":1', b'"logOffset":7'))
    with pytest.raises(
        CheckpointCorruptError, match=r"offsets/1 is corrupt \(changed or truncated since Spark wrote it"
    ):
        verify(layout)
    offsets.write_bytes(data[:-4])
    with pytest.raises(CheckpointCorruptError, match=r"truncated since Spark wrote it"):
        verify(layout)
    offsets.write_bytes(data.replace(b'"logOffset":1', b'"logOffset":7'))
    offsets.with_name(".1.crc").write_bytes(b"junk")  # Hadoop ignores a checksum file it cannot read
    verify(layout)


def dstream_checkpoint(tmp_path: Path, ran_ms: int) -> CheckpointLayout:
    layout = CheckpointLayout(tmp_path, "wordcount")
    write_manifest(layout, Manifest("wordcount", "dstream", {"source": "file:///in"}, "0.1.0", "4.3.0"))
    record_batch(layout, ran_ms, None, 3)
    return layout


def test_a_torn_last_plan_is_accepted_only_for_a_batch_that_never_ran(tmp_path: Path) -> None:
    layout = dstream_checkpoint(tmp_path, ran_ms=2000)
    log = layout.source_dir("file-1") / "plans.jsonl"
    log.parent.mkdir(parents=True)
    complete = '{"batch": 1000, "files": ["/in/a"]}\n{"batch": 2000, "files": ["/in/b"]}\n'
    log.write_text(complete + '{"batch": 3000, "files": ["/in/')  # crash mid-append of batch 3000
    verify(layout)
    log.write_text(complete + '{"ba')  # too short to tell its batch: a crash leaves such lines too
    verify(layout)
    log.write_text(complete[:-10])  # batch 2000's plan cut off, but batch 2000 was written
    with pytest.raises(CheckpointCorruptError, match="the plan of batch 2000 which ran, is cut off"):
        verify(layout)
    log.write_text(complete.replace('"files"', '"fil\x00s', 1))  # a complete line that is not JSON
    with pytest.raises(CheckpointCorruptError, match=r"plans.jsonl is corrupt \(line 1 is not JSON"):
        verify(layout)
    log.write_text(complete + "[]\n")
    with pytest.raises(CheckpointCorruptError, match="line 3 is not a batch plan"):
        verify(layout)


def test_last_batch_note_garbled_is_not_a_reason_to_refuse(tmp_path: Path) -> None:
    layout = dstream_checkpoint(tmp_path, ran_ms=2000)
    (layout.meta / "last-batch.json").write_text('{"batch_ti')
    verify(layout)
    assert inspect(layout.path)["last_written_batch"] is None


def test_a_corrupt_manifest_can_still_be_reset(tmp_path: Path) -> None:
    layout = dstream_checkpoint(tmp_path, ran_ms=2000)
    layout.manifest_path.write_text("{")
    with pytest.raises(CheckpointCorruptError):
        read_manifest(layout)
    assert reset(layout.path) == layout.path


def test_the_dead_letter_query_beside_a_sparkkit_checkpoint_can_be_reset(tmp_path: Path) -> None:
    layout = structured_checkpoint(tmp_path)
    dead = layout.path.with_name("main-dead-letters")
    (dead / "offsets").mkdir(parents=True)
    assert reset(dead) == dead


def test_xxhash32_and_lz4_blocks_as_lz4_java_writes_them() -> None:
    assert [_xxh32(data, 0) for data in (b"", b"a", b"abc")] == [0x02CC5D05, 0x550D7456, 0x32D153FF]
    assert _xxh32(b"0123456789abcdef0123", 0) == _xxh32(b"0123456789abcdef0123", 0)
    # literals "ab", then 6 bytes from 2 back (overlapping: ababab), then the last literals "c"
    assert _lz4_block(b"\x22ab\x02\x00\x10c", 9) == b"ababababc"
    with pytest.raises(ValueError, match="ends inside a sequence"):
        _lz4_block(b"\x22ab\x02", 9)
    with pytest.raises(ValueError, match="refers before its start"):
        _lz4_block(b"\x22ab\x09\x00\x10c", 9)


def block(content: bytes, check: int | None = None) -> bytes:
    """An uncompressed (raw) lz4-java block."""
    check = _xxh32(content, 0x9747B28C) & 0x0FFFFFFF if check is None else check
    header = bytes([0x10]) + b"".join(n.to_bytes(4, "little") for n in (len(content), len(content), check))
    return b"LZ4Block" + header + content


END = b"LZ4Block" + bytes([0x10]) + bytes(12)


def test_lz4_stream_checks_every_block_and_the_end_mark() -> None:
    java = b"\xac\xed\x00\x05sr\x00"
    assert _lz4_stream(block(java) + block(b"more") + END) == java + b"more"
    with pytest.raises(ValueError, match="before the end mark"):
        _lz4_stream(block(java))
    with pytest.raises(ValueError, match="inside a block"):
        _lz4_stream((block(java) + END)[:25])
    with pytest.raises(ValueError, match="fails its checksum"):
        _lz4_stream(block(java, check=1) + END)
    with pytest.raises(ValueError, match="no lz4 block at byte"):
        _lz4_stream(block(java) + b"X" + END)


def test_versions_dstream_needs_the_same_sparkkit_structured_the_same_minor(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "wordcount")

    def versions(api: str, sparkkit: str, spark: str) -> Manifest:
        return Manifest("wordcount", api, {}, sparkkit, spark)

    for api in ("dstream", "structured"):
        check_versions(layout, versions(api, "0.1.0", "4.3.0"), versions(api, "0.1.0", "4.3.2"))
        with pytest.raises(CheckpointVersionError) as info:
            check_versions(layout, versions(api, "0.1.0", "4.3.0"), versions(api, "0.1.0", "4.4.0"))
        assert "written by sparkkit 0.1.0 with Spark 4.3.0, this is sparkkit 0.1.0 with Spark 4.4.0" in str(
            info.value
        )
        assert str(info.value).endswith(f"sparkkit checkpoint reset {layout.path}")
    check_versions(layout, versions("structured", "0.1.0", "4.3.0"), versions("structured", "0.1.3", "4.3.0"))
    with pytest.raises(
        CheckpointVersionError, match="holds the job as that sparkkit pickled it and that Spark serialized it"
    ):
        check_versions(layout, versions("dstream", "0.1.0", "4.3.0"), versions("dstream", "0.1.3", "4.3.0"))
    with pytest.raises(CheckpointVersionError, match=r"Run it with sparkkit 0\.1\.0 and Spark 4\.3, or"):
        check_versions(
            layout, versions("structured", "0.1.0", "4.3.0"), versions("structured", "0.2.0", "4.3.0")
        )


def test_a_refused_write_below_the_checkpoint_becomes_one_line(tmp_path: Path) -> None:
    ck = tmp_path / "ck" / "wordcount" / "main"
    (ck / "sources" / "0").mkdir(parents=True)
    java = JobFailedError(
        f"wordcount_main failed: [STREAM_FAILED] Query [id = 1] terminated with exception: "
        f"{ck}/sources/0/.1.f1a92b78.tmp (Operation not permitted) SQLSTATE: XXKST"
    )
    failure = unwritable(java, ck, "wordcount")
    assert failure is not None and "\n" not in str(failure)
    assert str(failure).startswith(
        f"wordcount stopped: cannot write its checkpoint directory {ck}/sources/0 (Operation not permitted)"
    )
    python = JobFailedError("wordcount failed: PermissionError: [Errno 13] Permission denied: "
                            f"'{ck}/sparkkit/.last-batch.json.21644.tmp'")  # fmt: skip
    assert f"directory {ck}/sparkkit (Permission denied)" in str(unwritable(python, ck, "wordcount"))
    assert (
        unwritable(JobFailedError(f"wordcount failed: {ck} is fine; a bad record"), ck, "wordcount") is None
    )
    assert unwritable(JobFailedError("Permission denied: /elsewhere/x"), ck, "wordcount") is None


def test_a_file_source_log_is_checked_from_its_latest_compaction_on(tmp_path: Path) -> None:
    layout = structured_checkpoint(tmp_path)
    log = layout.path / "sources" / "0"
    log.mkdir(parents=True)
    entry = '{"path":"file:///in/a","timestamp":1,"batchId":0}'
    for name in ("8", "9.compact", "10"):
        (log / name).write_text(f"v1\n{entry}")
    (log / "8").write_text("v1\n{garbled")  # before the compaction: a restart does not read it
    verify(layout)
    (log / "10").write_text("v1\n{garbled")
    with pytest.raises(CheckpointCorruptError, match=r"sources/0/10 is corrupt \(line 2 is not JSON"):
        verify(layout)
