"""How the suite is shared out over xdist's workers (``make test``: ``-n 3 --dist loadfile``).

A module's tests run together on one worker, in order, so the fixtures a module shares (a
running processor, checkpoints made once, a broker) start once — except in the modules of
``SPREAD``, whose tests each run their jobs in processes of their own and share nothing: each of
those goes to whichever worker is free. The slow tests are handed out first
(``--no-loadscope-reorder`` keeps this order): a worker that drew one of them last would
finish the suite alone.
"""

from __future__ import annotations

from typing import Any

import pytest

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
