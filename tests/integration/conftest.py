"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sasl import start_scram_broker


@pytest.fixture(scope="module")
def scram_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain tansu behind a SCRAM front (tests/sasl.py); the front's bootstrap address."""
    with start_scram_broker(tmp_path_factory.mktemp("scram")) as bootstrap:
        yield bootstrap
