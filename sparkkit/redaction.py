"""One redaction for everything sparkkit prints, logs or stores: secrets become ``***``.

An option is a secret when its name matches :data:`SECRET_NAME` (Spark's own
``spark.redaction.regex`` idea, widened to Kafka's credential options). Text is redacted in
two ways: the value of every ``name=value`` pair whose name is a secret (address queries,
``--conf`` pairs, a JAAS ``password="..."``), and every secret value this process has been
given (:func:`remember`), wherever it appears — a client library's error message, say.
This module imports nothing from sparkkit, so every other module (errors included) may use it.
"""

from __future__ import annotations

import re

MASK = "***"
#: How a concealed secret's value reads (:mod:`sparkkit.secrets`): a name, shown as it is.
REFERENCE = "sparkkit-secret:"

#: Option names whose values are credentials: Kafka's ``sasl.jaas.config``, ``sasl.password``,
#: ``ssl.key.password``, ``ssl.keystore.key``, ``sasl.oauthbearer.client.secret``,
#: ``basic.auth.user.info``, and Spark's own ``secret|password|token|access.key``.
SECRET_NAME = re.compile(
    r"(?i)secret|password|passwd|token|access[._-]?key|jaas|credential|ssl[._-](?:keystore[._-])?key\b|"
    r"user[._-]info|api[._-]?key|private[._-]?key"
)

#: Spark's default ``spark.redaction.regex``, kept alongside sparkkit's names.
SPARK_DEFAULT_REDACTION = r"(?i)secret|password|token|access[.]?key"
#: Spark's default ``spark.sql.redaction.options.regex`` (data source options shown in plans).
SPARK_DEFAULT_OPTIONS_REDACTION = r"(?i)url"

#: A secret's value is recognised in free text only from this length on (shorter ones would
#: mask ordinary words); name=value pairs are masked whatever the value's length.
MIN_REMEMBERED = 4

_remembered: set[str] = set()

# name=value where the name holds a secret's name, in a query string, a --conf pair or a
# properties line: the value runs to the next '&', whitespace or quote; a JAAS value is quoted.
_NAMES = SECRET_NAME.pattern.removeprefix("(?i)")
_NAME = rf"[A-Za-z0-9_.\-]*(?:{_NAMES})[A-Za-z0-9_.\-]*"
_VALUE = r""""[^"]*"|'[^']*'|[^&\s"']*?(?=:?(?:[&\s"']|$))"""
_PAIR = re.compile(rf"(?i)(?P<name>{_NAME})=(?P<value>{_VALUE})")


def is_secret(name: str) -> bool:
    """Does an option of this name hold a credential?"""
    return bool(SECRET_NAME.search(name))


def remember(value: str) -> None:
    """Mask ``value`` wherever it appears in text redacted by this process from now on."""
    if len(value) >= MIN_REMEMBERED:
        _remembered.add(value)


def _mask_pair(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.strip("'\"").startswith(REFERENCE):
        return match.group(0)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('name')}={quote}{MASK}{quote}"


def redact_text(text: str) -> str:
    """``text`` with every secret option's value and every remembered secret masked."""
    for value in sorted(_remembered, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return _PAIR.sub(_mask_pair, text)


def redact_options(options: dict[str, str]) -> dict[str, str]:
    """The options with every secret's value masked (for display)."""
    return {k: MASK if is_secret(k) else v for k, v in options.items()}


def spark_redaction_conf() -> dict[str, str]:
    """Spark settings that hide the same names in its UI, event log and plan strings."""
    return {
        "spark.redaction.regex": f"{SPARK_DEFAULT_REDACTION}|{_NAMES}",
        "spark.sql.redaction.options.regex": f"{SPARK_DEFAULT_OPTIONS_REDACTION}|{_NAMES}",
        "spark.sql.redaction.string.regex": rf"(?i){_NAME}=(?:{_VALUE})",
    }
