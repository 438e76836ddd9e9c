"""py4j's log records of calls that failed because the driver JVM went are dropped (the run says
so in one line); every other record of py4j's is kept."""

from __future__ import annotations

import logging
from pathlib import Path

import py4j.java_gateway
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


def test_py4j_records_through_the_root_logger_are_filtered_too() -> None:
    """py4j's ``send_command`` logs a broken connection with ``logging.exception`` (the root)."""
    _quiet_broken_connections()
    root = logging.getLogger()

    def record(error: Exception, pathname: str) -> logging.LogRecord:
        try:
            raise Py4JNetworkError("Error while sending or receiving") from error
        except Py4JNetworkError as exc:
            info = (type(exc), exc, exc.__traceback__)
        message = "Exception while sending command."
        return logging.LogRecord("root", logging.ERROR, pathname, 1060, message, None, info)

    py4j_file = str(Path(py4j.java_gateway.__file__))
    assert not root.filter(record(ConnectionResetError(104, "reset"), py4j_file))
    assert root.filter(record(ConnectionResetError(104, "reset"), "/srv/app/other.py"))
