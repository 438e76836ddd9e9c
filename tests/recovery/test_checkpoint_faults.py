"""Faults of a real checkpoint: corrupt files, other versions, a directory that stops being writable.

One real run of wordcount per API (its own driver process, files in, JSON batches out) makes a
checkpoint. Each corruption case copies it, damages one file as a disk, a crash or a careless
hand would, and restarts the same command on the copy: the restart must be refused before Spark
starts, with exit code 2 and one line naming the file and ``sparkkit checkpoint reset``, leaving
the copy untouched (no silent start from zero); the reset it names must then work. A checkpoint
whose manifest says another sparkkit or Spark version wrote it is refused or resumed by the rule
of ``checkpoint.check_versions``. Finally a running job's checkpoint directory is made
unwritable (``chattr +i`` as root, which ignores file modes; ``chmod`` otherwise): the job stops
with one line naming the directory, and once it is writable again a restart ends with exact
totals.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sparkkit.checkpoint import CheckpointLayout, verify
from tests.processes import (
    batch_interval,
    driver_env,
    json_word_totals,
    start_driver,
    stop_gracefully,
    wait_until,
)

pytestmark = pytest.mark.slow
APIS = ("structured", "dstream")


@dataclass
class Made:
    """A checkpoint a real run made: ``root`` is the --checkpoint, ``args`` the command that made it."""

    api: str
    root: Path
    watched: Path
    out: Path
    args: list[str]
    expected: Counter[str]

    @property
    def query_dir(self) -> Path:
        return self.root / "wordcount" / "main"


def wordcount_args(api: str, watched: Path, out: Path, root: Path) -> list[str]:
    return ["run", "wordcount", "--api", api, "--source", f"file://{watched}", "--sink", f"json://{out}",
            "--checkpoint", str(root), "--batch-interval", batch_interval(api),
            "--duration", "0"]  # fmt: skip


def feed(watched: Path, name: str, expected: Counter[str]) -> str:
    """Move a file of lines into the watched directory (atomically); count its words."""
    lines = [f"{name} common", f"k{len(name) % 3} common {name}"]
    staging = watched.with_name("staging")
    staging.mkdir(exist_ok=True)
    (staging / name).write_text("".join(line + "\n" for line in lines))
    os.replace(staging / name, watched / name)
    expected.update(word for line in lines for word in line.split())
    return name


def admitted(query_dir: Path, name: str) -> bool:
    """Has the job taken file ``name`` into a batch (sparkkit's DStream plan log, Spark's file log)?"""
    logs = [*query_dir.glob("sparkkit/sources/*/plans.jsonl"), *query_dir.glob("sources/*/*")]
    return any(name in p.read_text(errors="replace") for p in logs if p.is_file())


def make_checkpoint(base: Path, api: str) -> Made:
    """Run wordcount over two files taken in two batches, until its totals are exact; stop it."""
    watched, out, root, log = base / "in", base / "out", base / "ck", base / "driver.log"
    watched.mkdir(parents=True)
    made = Made(api, root, watched, out, wordcount_args(api, watched, out, root), Counter())
    driver = start_driver(made.args, log)
    for name in ("f0.txt", "f1.txt"):
        feed(watched, name, made.expected)
        wait_until(lambda: admitted(made.query_dir, name), 120, f"{name} to be admitted", log)  # noqa: B023
    wait_until(lambda: json_word_totals(out) == made.expected, 120, "exact totals", log)
    assert stop_gracefully(driver) == 0, log.read_text()[-3000:]
    return made


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Made]:
    return {api: make_checkpoint(tmp_path_factory.mktemp(api), api) for api in APIS}


def copy_of(made: Made, tmp_path: Path) -> Made:
    """The checkpoint copied to a root of its own (refused runs never reach Spark, so a DStream
    checkpoint, which names its own directory inside, can be tried on a copy)."""
    root = tmp_path / "ck"
    shutil.copytree(made.root, root)
    args = wordcount_args(made.api, made.watched, made.out, root)
    return Made(made.api, root, made.watched, made.out, args, Counter(made.expected))


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def sparkkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *args],
        capture_output=True, text=True, env=driver_env(), timeout=120,
    )  # fmt: skip


# -- damage, as it is done to one file --


def latest(directory: Path) -> Path:
    return max((p for p in directory.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def newest_dstream_file(query_dir: Path) -> Path:
    """The file Spark reads first: the newest time, and of one time ``checkpoint-T`` before ``.bk``."""
    names = [p for p in query_dir.glob("checkpoint-*") if not p.name.endswith(".crc")]
    return max(names, key=lambda p: (int(p.name.split("-")[1].split(".")[0]), not p.name.endswith(".bk")))


def crc_of(file: Path) -> Path:
    return file.with_name(f".{file.name}.crc")


def truncate(keep_crc: bool, size: Callable[[int], int] = lambda n: n // 2) -> Callable[[Path], None]:
    def damage(file: Path) -> None:
        data = file.read_bytes()
        file.write_bytes(data[: size(len(data))])
        if not keep_crc:
            crc_of(file).unlink(missing_ok=True)

    return damage


def garble(keep_crc: bool, old: bytes | None = None, new: bytes = b"#") -> Callable[[Path], None]:
    """Replace ``old`` (default: the byte in the middle) by ``new``."""

    def damage(file: Path) -> None:
        data = file.read_bytes()
        if old is None:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0x5A]) + data[middle + 1 :]
        else:
            assert old in data, (old, data[:200])
            data = data.replace(old, new, 1)
        file.write_bytes(data)
        if not keep_crc:
            crc_of(file).unlink(missing_ok=True)

    return damage


def cut_last_line(file: Path) -> None:
    """A crash-like torn last line, but of a plan whose batch ran (the newest checkpoint is later)."""
    file.write_bytes(file.read_bytes()[:-6])


@dataclass(frozen=True)
class Corruption:
    api: str
    name: str
    file: Callable[[Path], Path]  # query dir -> the file damaged
    damage: Callable[[Path], None]
    why: str  # what the refusal says, in its parentheses


def plan_log(query_dir: Path) -> Path:
    (log,) = query_dir.glob("sparkkit/sources/*/plans.jsonl")
    return log


def manifest_file(query_dir: Path) -> Path:
    return query_dir / "sparkkit" / "manifest.json"


CORRUPTIONS = [
    Corruption("structured", "offsets-truncated", lambda q: latest(q / "offsets"), truncate(keep_crc=True),
               "truncated since Spark wrote it: it does not match its checksum"),
    Corruption("structured", "offsets-truncated-no-crc", lambda q: latest(q / "offsets"),
               truncate(keep_crc=False, size=lambda n: 3), "truncated: nothing after 'v1'"),
    Corruption("structured", "offsets-cut-in-json-no-crc", lambda q: latest(q / "offsets"),
               truncate(keep_crc=False), "line 2 is not JSON"),
    Corruption("structured", "offsets-value-changed", lambda q: latest(q / "offsets"),
               garble(keep_crc=True, old=b'"logOffset":1', new=b'"logOffset":0'),
               "changed or truncated since Spark wrote it: it does not match its checksum"),
    Corruption("structured", "commits-truncated", lambda q: latest(q / "commits"), truncate(keep_crc=True),
               "changed or truncated since Spark wrote it"),  # 29 bytes: shorter, in the one 512-byte chunk
    Corruption("structured", "commits-garbled-no-crc", lambda q: latest(q / "commits"),
               garble(keep_crc=False, old=b"{", new=b"\x00"), "line 2 is not JSON"),
    Corruption("structured", "metadata-garbled-no-crc", lambda q: q / "metadata",
               garble(keep_crc=False, old=b'"id"', new=b'"i'), "not Spark's query metadata"),
    Corruption("structured", "file-source-log-garbled", lambda q: q / "sources" / "0" / "0",
               garble(keep_crc=True, old=b'"path"', new=b'"pa\x00h'), "changed or truncated since"),
    Corruption("dstream", "checkpoint-truncated", newest_dstream_file, truncate(keep_crc=True),
               "truncated since Spark wrote it: it does not match its checksum"),
    Corruption("dstream", "checkpoint-truncated-no-crc", newest_dstream_file, truncate(keep_crc=False),
               "truncated: it ends at byte"),
    Corruption("dstream", "checkpoint-garbled", newest_dstream_file, garble(keep_crc=True),
               "changed or truncated since Spark wrote it"),
    Corruption("dstream", "checkpoint-garbled-no-crc", newest_dstream_file, garble(keep_crc=False),
               "garbled: "),
    Corruption("dstream", "plan-log-line-garbled", plan_log,
               garble(keep_crc=False, old=b'"files"', new=b"fil"), "line 1 is not JSON"),
    Corruption("dstream", "plan-log-torn-line-of-a-batch-that-ran", plan_log, cut_last_line,
               "its last line, the plan of batch "),
    *(c for api in APIS for c in (
        Corruption(api, "manifest-truncated", manifest_file, truncate(keep_crc=False),
                   "not a sparkkit manifest: "),
        Corruption(api, "manifest-garbled", manifest_file,
                   garble(keep_crc=False, old=b'"state": {', new=b'"state": ['), "not a sparkkit manifest: "),
        Corruption(api, "manifest-emptied", manifest_file,
                   truncate(keep_crc=False, size=lambda n: 0), "empty"),
    )),
]  # fmt: skip


@pytest.mark.parametrize("case", CORRUPTIONS, ids=lambda c: f"{c.api}-{c.name}")
def test_a_corrupt_file_is_refused_at_start_naming_it_and_the_reset(
    made: dict[str, Made], tmp_path: Path, case: Corruption
) -> None:
    ck = copy_of(made[case.api], tmp_path)
    damaged = case.file(ck.query_dir)
    case.damage(damaged)
    before = snapshot(ck.root)

    refused = sparkkit(*ck.args)

    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr  # one line, no Java, no traceback
    assert refused.stderr.startswith(f"sparkkit: error: checkpoint file {damaged} is corrupt ({case.why}"), (
        refused.stderr
    )
    assert refused.stderr.endswith(
        "); nothing was started. Restore the file, or start afresh: "
        f"sparkkit checkpoint reset {ck.query_dir}\n"
    ), refused.stderr
    assert refused.stdout == ""
    assert snapshot(ck.root) == before, "a refused run changed the checkpoint"
    print(f"{case.api}-{case.name}: exit {refused.returncode}: {refused.stderr.strip()}")  # pytest -s
    reset = sparkkit("checkpoint", "reset", str(ck.query_dir))
    assert (reset.returncode, reset.stdout) == (0, f"removed {ck.query_dir}\n"), reset.stderr
    assert not ck.query_dir.exists()


def test_a_torn_last_plan_of_a_batch_that_never_ran_is_accepted(
    made: dict[str, Made], tmp_path: Path
) -> None:
    """What a crash mid-append leaves (see checkpoint._check_plan_log): accepted; PlanLog cuts it."""
    ck = copy_of(made["dstream"], tmp_path)
    log = plan_log(ck.query_dir)
    later = int(newest_dstream_file(ck.query_dir).name.split("-")[1].split(".")[0]) + 1000
    with open(log, "a") as fh:
        fh.write(f'{{"batch": {later}, "files": ["{ck.watched}/f')
    verify(CheckpointLayout.at(ck.query_dir))


def edit_manifest(query_dir: Path, **versions: str) -> None:
    data = json.loads(manifest_file(query_dir).read_text())
    data.update(versions)
    manifest_file(query_dir).write_text(json.dumps(data))


def running_versions() -> tuple[str, str]:
    import pyspark

    import sparkkit

    return sparkkit.__version__, pyspark.__version__


def other_patch(version: str) -> str:
    major, minor, *_ = version.split(".")
    return f"{major}.{minor}.97"


def other_minor(version: str) -> str:
    major, minor, *_ = version.split(".")
    return f"{major}.{int(minor) + 1}.0"


REFUSED_VERSIONS = [
    ("dstream", "sparkkit_version", other_patch),  # the pickled graph: only the very same sparkkit
    ("dstream", "spark_version", other_minor),
    ("structured", "sparkkit_version", other_minor),
    ("structured", "spark_version", other_minor),
]


@pytest.mark.parametrize(
    ("api", "field", "change"), REFUSED_VERSIONS, ids=lambda v: getattr(v, "__name__", v)
)
def test_a_checkpoint_of_other_versions_is_refused_saying_which(
    made: dict[str, Made], tmp_path: Path, api: str, field: str, change: Callable[[str], str]
) -> None:
    ck = copy_of(made[api], tmp_path)
    sparkkit_version, spark_version = running_versions()
    written = {"sparkkit_version": sparkkit_version, "spark_version": spark_version}
    written[field] = change(written[field])
    edit_manifest(ck.query_dir, **written)
    before = snapshot(ck.root)

    refused = sparkkit(*ck.args)

    assert refused.returncode == 2, refused.stderr
    assert len(refused.stderr.splitlines()) == 1, refused.stderr
    spark_minor = ".".join(written["spark_version"].split(".")[:2])
    assert refused.stderr.startswith(
        f"sparkkit: error: checkpoint {ck.query_dir} was written by sparkkit {written['sparkkit_version']} "
        f"with Spark {written['spark_version']}, "
        f"this is sparkkit {sparkkit_version} with Spark {spark_version} ("
    ), refused.stderr
    assert refused.stderr.endswith(
        f"Run it with sparkkit {written['sparkkit_version']} and Spark {spark_minor}, "
        f"or start afresh: sparkkit checkpoint reset {ck.query_dir}\n"
    ), refused.stderr
    assert snapshot(ck.root) == before
    print(f"{api}-{field}: exit {refused.returncode}: {refused.stderr.strip()}")  # pytest -s


@pytest.mark.parametrize(
    ("api", "field"),
    [("dstream", "spark_version"), ("structured", "spark_version"), ("structured", "sparkkit_version")],
)
def test_a_checkpoint_of_another_patch_release_is_resumed(
    made: dict[str, Made], tmp_path: Path, api: str, field: str
) -> None:
    """Checked as a restart checks it, before Spark (a DStream copy cannot run: it names its
    original directory inside); the Structured sparkkit case also runs, below."""
    from sparkkit.cli import parse_job_options
    from sparkkit.runner import prepare

    ck = copy_of(made[api], tmp_path)
    written = dict(zip(("sparkkit_version", "spark_version"), running_versions(), strict=True))
    written[field] = other_patch(written[field])
    edit_manifest(ck.query_dir, **written)
    prepared = prepare(parse_job_options("wordcount", ck.args[2:]))
    assert prepared.manifest is not None
    assert prepared.manifest.run_id == json.loads(manifest_file(ck.query_dir).read_text())["run_id"]


def test_structured_resumes_a_checkpoint_of_another_sparkkit_patch_exactly(
    made: dict[str, Made], tmp_path: Path
) -> None:
    ck = copy_of(made["structured"], tmp_path)
    sparkkit_version, _ = running_versions()
    edit_manifest(ck.query_dir, sparkkit_version=other_patch(sparkkit_version))
    out, log = tmp_path / "out", tmp_path / "driver.log"
    args = wordcount_args("structured", ck.watched, out, ck.root)
    driver = start_driver(args, log)
    fresh: Counter[str] = Counter()
    feed(ck.watched, f"patch-{os.getpid()}.txt", fresh)  # the copy's input directory is the original's
    wait_until(lambda: json_word_totals(out) == fresh, 120, "the new file's words, and only them", log)
    assert stop_gracefully(driver) == 0, log.read_text()[-3000:]
    assert json_word_totals(out) == fresh, "a file the checkpoint had read was read again"
    assert json.loads(manifest_file(ck.query_dir).read_text())["sparkkit_version"] == sparkkit_version


# -- a checkpoint directory that stops being writable while the job runs --


def set_writable(directory: Path, writable: bool) -> None:
    """Make every directory below ``directory`` (un)writable. Root ignores file modes, so as root
    this sets the immutable attribute (``chattr +i``: no file may be created, renamed or
    removed in it, by anyone); otherwise it takes the write permission away."""
    if os.geteuid() == 0:
        assert shutil.which("chattr"), "as root, this test needs chattr (e2fsprogs) to deny writes"
        subprocess.run(["chattr", "-R", "-i" if writable else "+i", str(directory)], check=True)
        return
    for path in [directory, *directory.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755 if writable else 0o555)


@pytest.fixture
def unfreeze() -> Iterator[list[Path]]:
    frozen: list[Path] = []
    yield frozen
    for directory in frozen:  # whatever happened, pytest must be able to remove it
        set_writable(directory, True)


@pytest.mark.parametrize("api", APIS)
def test_an_unwritable_checkpoint_stops_the_job_in_one_line_and_a_restart_loses_nothing(
    tmp_path: Path, api: str, unfreeze: list[Path]
) -> None:
    watched, out, root, log = tmp_path / "in", tmp_path / "out", tmp_path / "ck", tmp_path / "driver.log"
    watched.mkdir()
    args = wordcount_args(api, watched, out, root)
    query_dir = root / "wordcount" / "main"
    expected: Counter[str] = Counter()

    def exact() -> bool:
        return json_word_totals(out) == expected

    first = start_driver(args, log)
    for name in ("f0.txt", "f1.txt"):
        feed(watched, name, expected)
        wait_until(lambda: admitted(query_dir, name), 120, f"{name} to be admitted", log)  # noqa: B023
    wait_until(exact, 120, "exact totals before the fault", log)
    unfreeze.append(query_dir)
    set_writable(query_dir, False)
    feed(watched, "f2.txt", expected)  # its batch (and, DStream, every batch) must write the checkpoint
    code = first.wait(timeout=120)
    text = log.read_text(errors="replace")
    errors = [line for line in text.splitlines() if line.startswith("sparkkit: error:")]
    assert code != 0 and len(errors) == 1, text[-3000:]
    match = re.fullmatch(
        r"sparkkit: error: wordcount stopped: cannot write its checkpoint directory (\S+) \((.+)\)\. "
        + re.escape(f"Once {query_dir} is writable again, run the same command: it resumes from its ")
        + "last completed batch",
        errors[0],
    )
    assert match is not None, errors[0]
    assert Path(match.group(1)).is_relative_to(query_dir), errors[0]
    assert match.group(2) in ("Operation not permitted", "Permission denied"), errors[0]
    print(f"{api}: exit {code}: {errors[0]}")  # the closing note's record (pytest -s)

    set_writable(query_dir, True)
    second = start_driver(args, log)
    feed(watched, "f3.txt", expected)
    wait_until(exact, 180, f"exact totals {dict(expected)} after the restart", log)
    assert stop_gracefully(second) == 0, log.read_text()[-3000:]
    assert exact(), "a record was counted twice after the totals were reached"
