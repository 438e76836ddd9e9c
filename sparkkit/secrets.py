"""Secrets kept out of everything sparkkit pickles, plans or stores: concealed, then revealed late.

An address's secret options (:func:`sparkkit.redaction.is_secret`) are concealed when it is
parsed: the value moves to an environment variable ``SPARKKIT_SECRET_<ID>`` and the option
holds a reference to it. Whatever is built from the address — the Kafka client settings that
a DStream checkpoint pickles, the options of a Structured query's plan — carries only the
reference; :func:`reveal` puts the value back at the moment a client connects.

The variable is named after the option and where it points (never after the value), so a
restart with a rotated credential finds the new value under the same name. Child processes
inherit it (a JVM started afterwards, ``spark-submit``'s driver), and the running
SparkContext's ``environment`` gets it too (:func:`share_with_workers`): PySpark sends that
with every Python function it ships (UDFs, RDD functions, Python data sources), so Python
workers have it in local mode and on a cluster alike — and, unlike ``spark.executorEnv``, it
is not part of the SparkConf a DStream checkpoint saves.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

from sparkkit.errors import SecretMissingError
from sparkkit.redaction import REFERENCE, is_secret, remember

if TYPE_CHECKING:
    from pyspark import SparkContext

PREFIX = "SPARKKIT_SECRET_"


def variable_name(scope: str, option: str) -> str:
    """The environment variable that holds ``option``'s value for the address ``scope``."""
    digest = hashlib.sha256(f"{scope}\0{option.lower()}".encode()).hexdigest()[:16].upper()
    return PREFIX + digest


def is_reference(value: str) -> bool:
    return value.startswith(REFERENCE)


def conceal(scope: str, options: dict[str, str]) -> dict[str, str]:
    """``options`` with each secret's value moved to this process's environment.

    ``scope`` names where the options point (an address without its options). Values that
    are references already (an address parsed a second time) stay as they are.
    """
    concealed = dict(options)
    for name, value in options.items():
        if is_secret(name) and not is_reference(value):
            variable = variable_name(scope, name)
            os.environ[variable] = value
            remember(value)
            _share_with_active_context(variable, value)
            concealed[name] = REFERENCE + variable
    return concealed


def reveal(options: dict[str, str]) -> dict[str, str]:
    """``options`` with every reference replaced by the secret's value from the environment.

    Raises
    ------
    SecretMissingError
        The process does not have the secret (an executor started without it).
    """
    revealed = dict(options)
    for name, value in options.items():
        if is_reference(value):
            variable = value.removeprefix(REFERENCE)
            try:
                revealed[name] = os.environ[variable]
            except KeyError:
                raise SecretMissingError(name, variable) from None
            remember(revealed[name])
    return revealed


def _share_with_active_context(variable: str, value: str) -> None:
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is not None:
        context.environment[variable] = value


def share_with_workers(context: SparkContext) -> None:
    """Give the Python workers of ``context`` every secret this process holds."""
    for name, value in os.environ.items():
        if name.startswith(PREFIX):
            context.environment[name] = value


def remember_environment() -> None:
    """Mask the secrets this process inherited (a driver started by ``spark-submit``)."""
    for name, value in os.environ.items():
        if name.startswith(PREFIX):
            remember(value)
