"""Checkpoint layout ``<root>/<job>/<query>``, the sparkkit manifest and the restart check.

Spark restores a DStream graph wholesale from its checkpoint and keys Structured state by
operator and source, so a restart with different state-shaping options is either silently
ignored or corrupts state. The manifest records those options and a restart must match them.

Before Spark starts, a restart also checks the checkpoint's files (:func:`verify`): a truncated
or garbled file would otherwise fail deep inside Spark, or worse, be passed over (Spark reads an
older DStream ``checkpoint-*`` file when the newest is unreadable, with only a warning). And it
checks the versions that wrote it (:func:`check_versions`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sparkkit.errors import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointUnwritableError,
    CheckpointVersionError,
)

MANIFEST_NAME = "manifest.json"
META_DIR = "sparkkit"
LAST_BATCH_NAME = "last-batch.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class CheckpointLayout:
    """Where one query of one job keeps Spark's checkpoint and sparkkit's own metadata."""

    root: Path
    job: str
    query: str = "main"

    @property
    def path(self) -> Path:
        return self.root / self.job / self.query

    @property
    def meta(self) -> Path:
        return self.path / META_DIR

    @property
    def manifest_path(self) -> Path:
        return self.meta / MANIFEST_NAME

    def source_dir(self, name: str) -> Path:
        return self.meta / "sources" / name

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> CheckpointLayout:
        """The layout whose query directory is ``path``."""
        p = Path(path).resolve()
        return cls(p.parent.parent, p.parent.name, p.name)


@dataclass(frozen=True)
class Manifest:
    """What a checkpoint was written by: job, API, the state-shaping options, versions."""

    job: str
    api: str
    state: Mapping[str, str]
    sparkkit_version: str
    spark_version: str
    created: float = 0.0
    run_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "api": self.api,
            "state": dict(self.state),
            "sparkkit_version": self.sparkkit_version,
            "spark_version": self.spark_version,
            "created": self.created,
            "run_id": self.run_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        """Raises ValueError naming what is missing or of the wrong type."""
        if not isinstance(data, Mapping):
            raise ValueError("not a JSON object")
        texts = {}
        for key in ("job", "api", "sparkkit_version", "spark_version"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValueError(f"{key!r} is missing or not a string")
            texts[key] = data[key]
        state = data.get("state")
        if not isinstance(state, Mapping) or not all(isinstance(v, str) for v in state.values()):
            raise ValueError("'state' is missing or not an object of strings")
        created = data.get("created", 0.0)
        if not isinstance(created, int | float):
            raise ValueError("'created' is not a number")
        return cls(
            job=texts["job"],
            api=texts["api"],
            state=dict(state),
            sparkkit_version=texts["sparkkit_version"],
            spark_version=texts["spark_version"],
            created=float(created),
            run_id=str(data.get("run_id", "")),
        )


def reset_hint(path: Path) -> str:
    """The command that starts a query afresh, as every refusal spells it."""
    return f"sparkkit checkpoint reset {path}"


def corrupt(file: Path, why: str, query_dir: Path) -> CheckpointCorruptError:
    """The one-line refusal of a checkpoint whose ``file`` is unusable."""
    return CheckpointCorruptError(
        f"checkpoint file {file} is corrupt ({why}); nothing was started. "
        f"Restore the file, or start afresh: {reset_hint(query_dir)}"
    )


def read_manifest(layout: CheckpointLayout) -> Manifest | None:
    """The manifest, None when there is none; CheckpointCorruptError when it is unreadable."""
    try:
        data = layout.manifest_path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Manifest.from_json(json.loads(data))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        why = "empty" if not data.strip() else f"not a sparkkit manifest: {str(exc).splitlines()[0]}"
        raise corrupt(layout.manifest_path, why, layout.path) from None


def write_manifest(layout: CheckpointLayout, manifest: Manifest) -> None:
    """Write the manifest; CheckpointUnwritableError when the directory cannot be written."""
    data = manifest.to_json()
    data["created"] = data["created"] or time.time()
    try:
        write_json_atomic(layout.manifest_path, data)
    except OSError as exc:
        where = Path(exc.filename).parent if exc.filename else layout.meta
        raise CheckpointUnwritableError(
            f"cannot write the checkpoint: {where}: {exc.strerror or exc}; nothing was started. "
            f"Make {layout.path} writable and run again"
        ) from None


def differences(old: Manifest, new: Manifest) -> list[tuple[str, str, str]]:
    """(option, checkpoint value, this run's value) for each state-shaping option that differs."""
    diffs = []
    if old.job != new.job:
        diffs.append(("job", old.job, new.job))
    if old.api != new.api:
        diffs.append(("api", old.api, new.api))
    for name in sorted(set(old.state) | set(new.state)):
        before, after = old.state.get(name, "(unset)"), new.state.get(name, "(unset)")
        if before != after:
            diffs.append((name, before, after))
    return diffs


def holds_spark_state(path: Path) -> bool:
    """Does a query directory hold more than sparkkit's own metadata (Spark's offsets, commits)?

    Metadata alone (a source's origin logged while a run was being planned) holds no state to
    corrupt: such a directory counts as fresh.
    """
    return path.is_dir() and any(p.name != META_DIR for p in path.iterdir())


def resumed(new: Manifest, old: Manifest) -> Manifest:
    """``new`` as the continuation of ``old``: its run id (which names output files) and creation."""
    return replace(new, run_id=old.run_id or new.run_id, created=old.created)


def as_flag(name: str) -> str:
    """A state-shaping option as the command line spells it: ``--batch-interval``."""
    return "--" + name.replace("_", "-")


def check_restart(
    layout: CheckpointLayout, new: Manifest, spell: Callable[[str], str] = as_flag
) -> Manifest | None:
    """Refuse a restart that would corrupt state; return the manifest being resumed, if any.

    Raises
    ------
    CheckpointMismatchError
        The checkpoint was written with other state-shaping options; the message names each
        option (as ``spell`` writes it) and the command that resets the checkpoint.
    CheckpointError
        The directory holds files but no sparkkit manifest.
    CheckpointCorruptError
        A file of the checkpoint is truncated or garbled (see :func:`verify`).
    CheckpointVersionError
        The checkpoint was written by versions this one cannot resume (see :func:`check_versions`).
    """
    old = read_manifest(layout)
    if old is None:
        if holds_spark_state(layout.path):
            raise CheckpointError(
                f"{layout.path} is not empty and has no sparkkit manifest; refusing to reuse it. "
                f"Choose another --checkpoint or remove it: sparkkit checkpoint reset --force {layout.path}"
            )
        verify(layout)  # sparkkit's own files (a generator's origin) of a run that never started
        return None
    verify(layout)
    check_versions(layout, old, new)
    diffs = differences(old, new)
    if diffs:
        lines = [
            f"checkpoint {layout.path} was written with other state-shaping options; "
            "restarting on it would ignore or corrupt its state:"
        ]
        lines += [
            f"  {spell(name)}: checkpoint has {before!r}, this run has {after!r}"
            for name, before, after in diffs
        ]
        lines.append(
            f"Run with the checkpoint's options, or start afresh: sparkkit checkpoint reset {layout.path}"
        )
        raise CheckpointMismatchError("\n".join(lines))
    return old


def _minor(version: str) -> tuple[str, ...]:
    """``4.3.1`` -> ``("4", "3")``."""
    return tuple(version.split(".")[:2])


def check_versions(layout: CheckpointLayout, old: Manifest, new: Manifest) -> None:
    """Refuse a checkpoint written by versions this run cannot safely resume.

    DStream: the checkpoint holds the job's graph, its Python functions and objects pickled by
    the sparkkit that wrote it, inside Java objects serialized by that Spark. Unpickling them
    with other sparkkit code (any other version: attributes and classes move between releases)
    may fail or, worse, restore objects that behave differently, so the sparkkit version must be
    the same; Spark only promises its serialized classes within a minor version, so the Spark
    major.minor must be the same (a patch release may differ).

    Structured: the checkpoint holds no Python code, only Spark's offsets, commits and state,
    whose layout Spark keeps across patch releases; sparkkit shapes them through the query plan
    a job builds (operators, state schema, source offsets such as its Kafka reader's). A sparkkit
    patch release never changes that plan, a source's offsets or its own files in a checkpoint
    (such a change makes a minor release), so sparkkit and Spark each must keep their
    major.minor; patch releases of either may differ.
    """
    if old.api == "dstream":
        sparkkit_ok = old.sparkkit_version == new.sparkkit_version
        why = "a DStream checkpoint holds the job as that sparkkit pickled it and that Spark serialized it"
    else:
        sparkkit_ok = _minor(old.sparkkit_version) == _minor(new.sparkkit_version)
        why = "Structured state is kept only within one minor version of sparkkit and of Spark"
    if sparkkit_ok and _minor(old.spark_version) == _minor(new.spark_version):
        return
    raise CheckpointVersionError(
        f"checkpoint {layout.path} was written by sparkkit {old.sparkkit_version} with Spark "
        f"{old.spark_version}, this is sparkkit {new.sparkkit_version} with Spark {new.spark_version} "
        f"({why}); nothing was started. Run it with sparkkit {old.sparkkit_version} and Spark "
        f"{'.'.join(_minor(old.spark_version))}, or start afresh: {reset_hint(layout.path)}"
    )


#: Spark's name of a DStream checkpoint file (``Checkpoint.REGEX``): time, then ``.bk`` or nothing.
_DSTREAM_FILE = re.compile(r"checkpoint-(\d+)([\w.]*)")
_LZ4_MAGIC = b"LZ4Block"
_LZ4_HEADER = len(_LZ4_MAGIC) + 13  # token, compressed length, original length, checksum
_LZ4_SEED = 0x9747B28C  # lz4-java's block checksum seed


def verify(layout: CheckpointLayout) -> None:
    """Refuse (CheckpointCorruptError, naming the file) a checkpoint with a truncated or garbled file.

    Checked: Spark's Structured logs (every ``offsets/N`` and ``commits/N``, ``metadata``, and
    of a file source's log ``sources/*/`` what a restart reads: its latest ``N.compact`` and the
    files after it), the newest DStream ``checkpoint-*`` file (the one Spark reads; it would pass
    over an unreadable one to an older one, with only a warning), and sparkkit's own files
    (``origin.json``, ``plans.jsonl``). Where Hadoop wrote a checksum beside a file
    (``.NAME.crc``) it must match, which any changed byte breaks. A garbled ``last-batch.json``
    is no reason to refuse: it only notes the last batch for ``inspect``, nothing reads it back,
    and the next batch rewrites it.
    """
    path = layout.path
    for log in ("offsets", "commits"):
        for file in _numbered(path / log):
            _check_spark_log(file, log, path)
    offsets, commits = _numbered(path / "offsets"), _numbered(path / "commits")
    if commits and (not offsets or int(commits[-1].name) > int(offsets[-1].name)):
        raise corrupt(commits[-1], "a commit with no offsets/ file of its batch", path)
    if (path / "metadata").is_file():
        try:
            metadata = json.loads(_checked_bytes(path / "metadata", path))
        except ValueError:
            metadata = None
        if not isinstance(metadata, dict) or "id" not in metadata:
            raise corrupt(path / "metadata", "not Spark's query metadata", path)
    for source in sorted((path / "sources").glob("*")) if (path / "sources").is_dir() else []:
        files = sorted(
            (f for f in source.iterdir() if re.fullmatch(r"\d+(\.compact)?", f.name)),
            key=lambda f: int(f.name.removesuffix(".compact")),
        )
        compacts = [i for i, f in enumerate(files) if f.name.endswith(".compact")]
        for file in files[compacts[-1] if compacts else 0 :]:
            _check_spark_log(file, "sources", path)
    newest = _newest_dstream_file(path)
    if newest is not None:
        _check_dstream_file(newest, path)
    for origin in sorted(layout.meta.glob("sources/*/origin.json")):
        try:
            ok = isinstance(json.loads(origin.read_bytes())["origin_ms"], int)
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise corrupt(origin, "not a generator origin", path)
    plan_logs = sorted(layout.meta.glob("sources/*/plans.jsonl"))
    if plan_logs:
        ran = _ran_until(layout, newest)
        for log_file in plan_logs:
            _check_plan_log(log_file, ran, path)


def _numbered(directory: Path) -> list[Path]:
    """The files of a Spark metadata log, ``0``, ``1``, ... in batch order (temp files are hidden)."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def _checked_bytes(file: Path, query_dir: Path) -> bytes:
    """The file's bytes, refused when its Hadoop checksum file says they changed.

    ``.NAME.crc``: ``crc\\0``, the bytes per checksum (big-endian int), then the CRC-32 of each
    chunk. Like Hadoop, a checksum file with another header is ignored.
    """
    data = file.read_bytes()
    try:
        sums = file.with_name(f".{file.name}.crc").read_bytes()
    except FileNotFoundError:
        return data
    per = int.from_bytes(sums[4:8], "big") if len(sums) >= 8 else 0
    if sums[:4] != b"crc\0" or per <= 0:
        return data
    actual = b"".join(zlib.crc32(data[i : i + per]).to_bytes(4, "big") for i in range(0, len(data), per))
    if actual != sums[8:]:
        chunks, expected = len(actual), len(sums) - 8
        how = "truncated" if chunks < expected else "changed" if chunks > expected else "changed or truncated"
        raise corrupt(
            file, f"{how} since Spark wrote it: it does not match its checksum .{file.name}.crc", query_dir
        )
    return data


def _check_spark_log(file: Path, log: str, query_dir: Path) -> None:
    """A Spark metadata log file: ``vN``, then JSON lines (offsets: a source without one is ``-``)."""
    data = _checked_bytes(file, query_dir)
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise corrupt(file, "not UTF-8 text", query_dir) from None
    if len(lines) == 1 and log != "sources":
        raise corrupt(
            file, "truncated: empty" if not data else "truncated: it ends on its first line", query_dir
        )
    if not re.fullmatch(r"v\d+", lines[0]):
        raise corrupt(file, "no log version such as v1 on its first line", query_dir)
    body = lines[1:]
    if log in ("offsets", "commits") and not "".join(body).strip():
        raise corrupt(file, f"truncated: nothing after {lines[0]!r}", query_dir)
    for n, line in enumerate(body, 2):
        if log == "offsets" and n > 2 and line == "-":
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise corrupt(file, f"line {n} is not JSON", query_dir) from None
        if not isinstance(value, dict) and (log != "offsets" or n == 2):
            raise corrupt(file, f"line {n} is not a JSON object", query_dir)


def _dstream_files(path: Path) -> Iterator[tuple[int, bool, Path]]:
    for file in path.iterdir() if path.is_dir() else []:
        match = _DSTREAM_FILE.fullmatch(file.name)
        if match and file.is_file():
            yield int(match.group(1)), bool(match.group(2)), file


def _newest_dstream_file(path: Path) -> Path | None:
    """The DStream checkpoint file Spark reads first: the newest time, ``checkpoint-T`` before ``.bk``."""
    files = sorted(_dstream_files(path), key=lambda f: (f[0], not f[1]))
    return files[-1][2] if files else None


def _check_dstream_file(file: Path, query_dir: Path) -> None:
    """Its checksum file, and with Spark's default codec (lz4) the file itself: each block
    decompressed and matched against its checksum, up to the end mark, holding a Java
    serialization stream. (Spark would read an older file instead, warning in its log only.)"""
    data = _checked_bytes(file, query_dir)
    if not data:
        raise corrupt(file, "truncated: empty", query_dir)
    if not data.startswith(_LZ4_MAGIC):
        return  # another spark.io.compression.codec: its checksum file is all there is to check
    try:
        content = _lz4_stream(data)
    except ValueError as exc:
        raise corrupt(file, str(exc), query_dir) from None
    if not content.startswith(b"\xac\xed\x00\x05"):
        raise corrupt(file, "garbled: it holds no Java serialization stream", query_dir)


def _lz4_stream(data: bytes) -> bytes:
    """The content of lz4-java's ``LZ4BlockOutputStream`` format (Spark's lz4 codec); ValueError
    saying where it is truncated or garbled.

    Each block: ``LZ4Block``, a token (method | level), compressed and original lengths and the
    checksum of the original bytes (little-endian ints); an empty block ends the stream.
    """
    out, pos = bytearray(), 0
    while True:
        if len(data) - pos < _LZ4_HEADER:
            raise ValueError(f"truncated: it ends at byte {len(data)}, before the end mark")
        if data[pos : pos + len(_LZ4_MAGIC)] != _LZ4_MAGIC:
            raise ValueError(f"garbled: no lz4 block at byte {pos}")
        method = data[pos + 8] & 0xF0
        compressed, original, check = (
            int.from_bytes(data[pos + i : pos + i + 4], "little") for i in (9, 13, 17)
        )
        pos += _LZ4_HEADER
        if original == 0:
            if compressed != 0 or pos != len(data):
                raise ValueError(f"garbled: bytes after the end mark at byte {pos}")
            return bytes(out)
        if pos + compressed > len(data):
            raise ValueError(f"truncated: it ends at byte {len(data)}, inside a block")
        raw = data[pos : pos + compressed]
        if method == 0x20:
            raw = _lz4_block(raw, original)
        elif method != 0x10 or compressed != original:
            raise ValueError(f"garbled: a bad lz4 block header before byte {pos}")
        if _xxh32(raw, _LZ4_SEED) & 0x0FFFFFFF != check:  # lz4-java keeps 28 bits of it
            raise ValueError(f"garbled: the lz4 block at byte {pos - _LZ4_HEADER} fails its checksum")
        out += raw
        pos += compressed


def _lz4_length(src: bytes, i: int, length: int) -> tuple[int, int]:
    """A length from a token's 4 bits, extended by bytes at ``i`` when it is 15; and where it ends."""
    if length == 15:
        while src[i] == 255:
            length += 255
            i += 1
        length += src[i]
        i += 1
    return length, i


def _lz4_block(src: bytes, size: int) -> bytes:
    """One LZ4 block decompressed: sequences of literals and back references."""
    out, i = bytearray(), 0
    try:
        while True:
            token = src[i]
            i += 1
            length, i = _lz4_length(src, i, token >> 4)
            out += src[i : i + length]
            i += length
            if i >= len(src):
                break
            offset = src[i] | src[i + 1] << 8
            i += 2
            length, i = _lz4_length(src, i, token & 15)
            length += 4
            start = len(out) - offset
            if offset == 0 or start < 0:
                raise ValueError("garbled: an lz4 block refers before its start")
            while length > 0:  # a reference may overlap what it produces
                chunk = out[start : start + min(length, offset)]
                out += chunk
                start += len(chunk)
                length -= len(chunk)
    except IndexError:
        raise ValueError("garbled: an lz4 block ends inside a sequence") from None
    if len(out) != size:
        raise ValueError("garbled: an lz4 block decompresses to another length")
    return bytes(out)


_XXH = (2654435761, 2246822519, 3266489917, 668265263, 374761393)


def _xxh32(data: bytes, seed: int) -> int:
    """xxHash32, the checksum lz4-java puts in each block."""
    p1, p2, p3, p4, p5 = _XXH
    mask = 0xFFFFFFFF

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & mask

    def round_(acc: int, lane: int) -> int:
        return rotl((acc + lane * p2) & mask, 13) * p1 & mask

    n, i = len(data), 0
    if n >= 16:
        v = [(seed + p1 + p2) & mask, (seed + p2) & mask, seed & mask, (seed - p1) & mask]
        while i <= n - 16:
            for k in range(4):
                v[k] = round_(v[k], int.from_bytes(data[i + 4 * k : i + 4 * k + 4], "little"))
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & mask
    else:
        h = (seed + p5) & mask
    h = (h + n) & mask
    while i + 4 <= n:
        h = rotl((h + int.from_bytes(data[i : i + 4], "little") * p3) & mask, 17) * p4 & mask
        i += 4
    while i < n:
        h = rotl((h + data[i] * p5) & mask, 11) * p1 & mask
        i += 1
    h = (h ^ (h >> 15)) * p2 & mask
    h = (h ^ (h >> 13)) * p3 & mask
    return h ^ (h >> 16)


def _ran_until(layout: CheckpointLayout, newest: Path | None) -> int | None:
    """The latest DStream batch time (ms) known to have been planned: Spark's newest checkpoint
    (written once the batch's jobs were generated, its plans returned) or the last batch written."""
    times = []
    if newest is not None:
        match = _DSTREAM_FILE.fullmatch(newest.name)
        assert match is not None
        times.append(int(match.group(1)))
    try:
        last = json.loads((layout.meta / LAST_BATCH_NAME).read_bytes())
        if last.get("batch_id") is None and isinstance(last.get("batch_time_ms"), int):
            times.append(last["batch_time_ms"])
    except (OSError, ValueError, AttributeError):
        pass  # informational only (see verify)
    return max(times) if times else None


def _check_plan_log(file: Path, ran_until: int | None, query_dir: Path) -> None:
    """Every complete line a plan; a torn last line only where a crash can leave one.

    The planner writes an entry and its newline in one write and fsyncs them before the batch's
    input is returned, so a crash mid-append leaves a last line without a newline, of a batch
    that never ran: ``PlanLog`` cuts it off and the batch is planned again. A complete line that
    is not a plan, or a torn line of a batch that ran (its time is not after the newest Spark
    checkpoint or the last batch written), was not left by a crash: its files would be read a
    second time, or never. (A cut exactly at a line's end cannot be told from a shorter log.)
    """
    try:
        *complete, last = file.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise corrupt(file, "not UTF-8 text", query_dir) from None
    for n, line in enumerate(complete, 1):
        try:
            entry = json.loads(line)
        except ValueError:
            raise corrupt(file, f"line {n} is not JSON", query_dir) from None
        if not isinstance(entry, dict) or not isinstance(entry.get("batch"), int):
            raise corrupt(file, f"line {n} is not a batch plan", query_dir)
    torn = re.match(r'\{"batch": (\d+)[,}]', last)
    if torn and ran_until is not None and int(torn.group(1)) <= ran_until:
        raise corrupt(
            file, f"its last line, the plan of batch {torn.group(1)} which ran, is cut off", query_dir
        )


#: How an operating system says a write was refused, in Python's and in Java's words.
_WRITE_REFUSALS = (
    "Permission denied",
    "Operation not permitted",
    "Read-only file system",
    "No space left on device",
    "Disk quota exceeded",
    "Not a directory",
    "is not a directory",
    "Mkdirs failed",
)


def _texts(exc: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = ""
        with contextlib.suppress(Exception):  # a Java exception whose gateway is gone
            text = str(current)
        yield text
        current = current.__cause__ or current.__context__


def unwritable(exc: BaseException, checkpoint: Path, job: str) -> CheckpointUnwritableError | None:
    """The one-line error for a run that failed because it could not write below ``checkpoint``.

    None when ``exc`` (or what caused it) names no path there on a line that says a write was
    refused (nor when ``exc`` is such an error already).
    """
    if isinstance(exc, CheckpointUnwritableError):
        return None
    under = re.compile(r"(?:file:)?(" + re.escape(str(checkpoint)) + r"(?:/[^\s'\"():,\]]*)?)")
    for text in _texts(exc):
        for line in text.splitlines():
            reason = next((r for r in _WRITE_REFUSALS if r in line), None)
            match = under.search(line)
            if reason is None or match is None:
                continue
            found = Path(match.group(1))
            where = found if found.is_dir() else found.parent
            return CheckpointUnwritableError(
                f"{job} stopped: cannot write its checkpoint directory {where} ({reason}). "
                f"Once {checkpoint} is writable again, run the same command: it resumes from its "
                "last completed batch"
            )
    return None


def record_batch(layout: CheckpointLayout, batch_time_ms: int, batch_id: int | None, rows: int) -> None:
    """Note the last batch whose output was written, for ``sparkkit checkpoint inspect``."""
    write_json_atomic(
        layout.meta / LAST_BATCH_NAME,
        {"batch_time_ms": batch_time_ms, "batch_id": batch_id, "rows": rows, "written_at": time.time()},
    )


def _latest_structured_commit(path: Path) -> int | None:
    commits = path / "commits"
    ids = [int(p.name) for p in commits.iterdir() if p.name.isdigit()] if commits.is_dir() else []
    return max(ids) if ids else None


def _latest_dstream_checkpoint(path: Path) -> int | None:
    times = []
    for p in path.glob("checkpoint-*"):
        stem = p.name.removeprefix("checkpoint-").removesuffix(".bk")
        if stem.isdigit():
            times.append(int(stem))
    return max(times) if times else None


def inspect(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest and the last completed batch of the query checkpoint at ``path``."""
    layout = CheckpointLayout.at(path)
    manifest = read_manifest(layout)
    if manifest is None:
        raise CheckpointError(f"{layout.path} has no sparkkit manifest ({layout.manifest_path} is missing)")
    info: dict[str, Any] = {"path": str(layout.path), "manifest": manifest.to_json()}
    try:
        info["last_written_batch"] = json.loads((layout.meta / LAST_BATCH_NAME).read_text())
    except (FileNotFoundError, ValueError):  # garbled: the next batch rewrites it (see verify)
        info["last_written_batch"] = None
    if manifest.api == "structured":
        info["last_committed_batch_id"] = _latest_structured_commit(layout.path)
    else:
        info["last_checkpoint_time_ms"] = _latest_dstream_checkpoint(layout.path)
    return info


def reset(path: str | os.PathLike[str], force: bool = False) -> Path:
    """Delete the query checkpoint at ``path``; without ``force`` only a sparkkit one."""
    layout = CheckpointLayout.at(path)
    if not layout.path.is_dir():
        raise CheckpointError(f"{layout.path} is not a checkpoint directory")
    protected = {Path("/"), Path.home().resolve(), Path.cwd().resolve()}
    if layout.path in protected or Path.cwd().resolve().is_relative_to(layout.path):
        raise CheckpointError(f"refusing to delete {layout.path}: name the query directory, ROOT/JOB/QUERY")
    if not force and not _written_by_sparkkit(layout):
        raise CheckpointError(
            f"{layout.path} has no sparkkit manifest; not deleting it (use --force if you are sure)"
        )
    shutil.rmtree(layout.path)
    return layout.path


def _written_by_sparkkit(layout: CheckpointLayout) -> bool:
    """A manifest is there (readable or not: a corrupt checkpoint must be resettable), or this is
    the dead-letter query ``QUERY-dead-letters`` beside a sparkkit checkpoint ``QUERY``."""
    if layout.manifest_path.is_file():
        return True
    main = layout.query.removesuffix("-dead-letters")
    return main != layout.query and replace(layout, query=main).manifest_path.is_file()
