"""Secrets kept out of everything sparkkit pickles, plans or stores: concealed, then revealed late.

An address's secret options (:func:`sparkkit.redaction.is_secret`) are concealed when it is
parsed: the value moves to an environment variable ``SPARKKIT_SECRET_<ID>`` and the option
holds a reference to it. Whatever is built from the address — the Kafka client settings that
a DStream checkpoint pickles, the options of a Structured query's plan — carries only the
reference; :func:`reveal` puts the value back at the moment a client connects.

The variable is named after the option and where it points (never after the value), so a
restart with a rotated credential finds the new value under the same name. Child processes
inherit it: the JVM and its Python workers in local mode, ``spark-submit``'s driver.
Executors on a cluster get it through ``spark.executorEnv`` (:func:`executor_env`), which
Spark's redaction hides in its UI and event log.
"""

from __future__ import annotations

import hashlib
import os

from sparkkit.errors import SecretMissingError
from sparkkit.redaction import is_secret, remember

PREFIX = "SPARKKIT_SECRET_"
#: What a concealed option's value looks like: ``sparkkit-secret:SPARKKIT_SECRET_0123ABCD...``.
REFERENCE = "sparkkit-secret:"


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


def executor_env() -> dict[str, str]:
    """``spark.executorEnv.*`` settings that give a cluster's executors this process's secrets."""
    return {f"spark.executorEnv.{k}": v for k, v in os.environ.items() if k.startswith(PREFIX)}


def remember_environment() -> None:
    """Mask the secrets this process inherited (a driver started by ``spark-submit``)."""
    for name, value in os.environ.items():
        if name.startswith(PREFIX):
            remember(value)
