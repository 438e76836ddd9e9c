"""py4j's log records of calls that failed because the driver JVM went are dropped (the run says
so in one line); every other record of py4j's is kept."""

from __future__ import annotations

import logging

import pytest
from py4j.protocol import Py4JError, Py4JNetworkError

from sparkkit.session import _quiet_broken_connections


@pytest.mark.parametrize(
    ("error", "kept"),
    [
        (Py4JNetworkError("Error while sending or receiving"), False),
        (ConnectionResetError(104, "Connection reset by peer"), False),
        (Py4JError("An error occurred while calling o12.foo"), True),
        (ValueError("a bug in a foreachBatch function"), True),
    ],
)
def test_only_a_broken_connection_is_dropped(
    error: Exception, kept: bool, caplog: pytest.LogCaptureFixture
) -> None:
    _quiet_broken_connections()
    _quiet_broken_connections()  # idempotent: one filter per logger
    logger = logging.getLogger("py4j.clientserver")
    assert len(logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="py4j"):
        try:
            try:
                raise error
            except Exception as inner:  # as py4j raises: the socket's error, then its own
                raise Py4JError("There was an exception while executing the Python Proxy") from inner
        except Py4JError:
            logger.exception("There was an exception while executing the Python Proxy on the Python Side.")
    assert [r.getMessage() for r in caplog.records] == (
        ["There was an exception while executing the Python Proxy on the Python Side."] if kept else []
    )
