"""How the suite is shared out over xdist's workers (``make test``: ``-n 3 --dist loadfile``).

A module's tests run together on one worker, in order, so the fixtures a module shares (a
running processor, checkpoints made once, a broker) start once — except in the modules of
``SPREAD``, whose tests each run their jobs in processes of their own and share nothing: each of
those goes to whichever worker is free. The slow tests are handed out first
(``--no-loadscope-reorder`` keeps this order): a worker that drew one of them last would
finish the suite alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from sparkkit.class_archive import MODE_ENV as CLASS_ARCHIVE_ENV

SPREAD = frozenset(
    {
        "tests/integration/test_commands.py",
        "tests/integration/test_secrets.py",
        "tests/integration/test_spark_submit.py",
        "tests/recovery/test_broker_outage.py",
        "tests/recovery/test_processor_recovery.py",
        "tests/recovery/test_recovery.py",
    }
)


#: The JVM options of every driver the suite starts (``SPARK_SUBMIT_OPTS``, unless already set).
#: Its drivers live for seconds, where C2's compiling takes a core of two and pays back nothing:
#: C1 alone took tests/recovery/test_recovery.py, tests/processor/test_processor.py and
#: tests/integration/test_wordcount_harness.py from 404 s to 262 s (``-n 3``, same tree).
#: Throughput and latency are measured by the benchmarks, with the default JIT. C1 alone also
#: shrinks HotSpot's code cache from 240 MB to 48 MB, which a worker's session filled after
#: minutes of queries ("Out of space in CodeCache for adapters" stopped its SparkContext):
#: hence the size.
SUITE_DRIVER_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"


def pytest_configure(config: pytest.Config) -> None:
    """Before the first test: :data:`SUITE_DRIVER_JAVA_OPTIONS` (workers inherit it); then, in
    the controller only, ``sparkkit warm-up``, so that every driver the suite starts, in any
    worker, starts from the class archive, and none writes one as it exits
    (``SPARKKIT_CLASS_ARCHIVE=use`` for the rest of the run). The tests of the archive itself use
    caches of their own."""
    os.environ.setdefault("SPARK_SUBMIT_OPTS", SUITE_DRIVER_JAVA_OPTIONS)
    if hasattr(config, "workerinput") or os.environ.get(CLASS_ARCHIVE_ENV, "auto") != "auto":
        return
    from tests.processes import ROOT, driver_env

    warm = subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", "warm-up"],
        capture_output=True, text=True, env=driver_env(), cwd=ROOT, timeout=900,
    )  # fmt: skip
    if warm.returncode != 0:
        raise pytest.UsageError(f"sparkkit warm-up failed ({warm.returncode}): {warm.stderr[-2000:]}")
    os.environ[CLASS_ARCHIVE_ENV] = "use"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with the tests of ``SPREAD`` handed out one by one."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return nodeid if module in SPREAD else module

    return ModuleScheduling(config, log)
