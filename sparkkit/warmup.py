"""``sparkkit warm-up``: write the driver's class archive now, from jobs like the ones users run.

Without it, the first driver that finds no archive writes one as it exits, holding the classes
that driver happened to load. The warm-up runs the word count through both APIs (a generator and
a file source, Structured then DStream, to memory sinks) in one driver, so the archive holds what
the usual jobs load, and waits while it is written; every later driver starts from it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sparkkit.class_archive import finish_training, launched
from sparkkit.duration import Duration

#: How long each warm-up job runs: a few micro-batches after the first.
RUN_FOR = Duration(4000)


@dataclass(frozen=True)
class WarmUp:
    """What the warm-up found or did, in words; the archive when there is one; ``failed`` when
    a driver could not write it."""

    state: str
    archive: Path | None = None
    failed: bool = False


def warm_up() -> WarmUp:
    """Start a driver; if it is the one to write the archive, run the warm-up jobs and write it."""
    from sparkkit.config import load_config
    from sparkkit.jobs import get_job
    from sparkkit.runner import run
    from sparkkit.session import build_spark_session, planned_driver_launch

    planned = planned_driver_launch()
    if not planned.writes:
        if planned.archive is not None and planned.archive.usable():
            return WarmUp(f"the class archive is there: {planned.archive.path}", planned.archive.path)
        return WarmUp(planned.state, failed=planned.archive is not None and planned.archive.failed())
    spark = build_spark_session("sparkkit-warm-up")
    launch = launched()
    if launch is None or launch.training is None:  # another driver began writing meanwhile
        spark.stop()
        return WarmUp(launch.state if launch else "no class archive: the JVM was already up")
    with tempfile.TemporaryDirectory(prefix="sparkkit-warm-up-") as tmp:
        lines = Path(tmp) / "input"
        lines.mkdir()
        (lines / "words.txt").write_text("the quick brown fox\njumps over the lazy dog\n", encoding="utf-8")
        for api, sources in (
            ("structured", ["generator://words?rate=200&keys=20", f"file://{lines}"]),
            ("dstream", ["generator://words?rate=200&keys=20"]),
        ):
            cli = {
                "api": api,
                "source": sources,
                "sink": f"memory://sparkkit_warm_up_{api}?view=false&keep=100",
                "batch_interval": "1s",
                "duration": str(RUN_FOR),
            }
            job = get_job("wordcount")
            run(load_config(job.name, job.options, cli=cli, env={}, conf_dir=Path(tmp) / "-"), spark)
    spark.stop()
    archive = finish_training()
    if archive is None:
        return WarmUp(f"the driver exited without writing the class archive ({launch.state})", failed=True)
    return WarmUp(f"wrote the class archive {archive.path}", archive.path)
