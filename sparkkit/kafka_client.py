"""Talking to Kafka for sources, sinks and ``sparkkit produce``: client settings, offsets, reads.

Two clients: kafka-python (pure Python, always installed) and confluent-kafka (librdkafka,
the optional ``fast`` extra), which reads an order of magnitude faster. An address picks with
the option ``client=auto|confluent|kafka-python``; ``auto`` takes confluent-kafka when it is
installed. Every Kafka call made for that address (offsets, reads, writes, the reachability
check, the lag) goes through the one client it chose, with the same settings.

Options with the ``kafka.`` prefix are client settings named as Spark's Kafka connector names
them, after the Java client (``kafka.security.protocol``, ``kafka.sasl.mechanism``,
``kafka.sasl.jaas.config``, ``kafka.ssl.truststore.location`` ...). :func:`librdkafka_settings`
is the one translation of them, to librdkafka's properties, from which kafka-python's keyword
arguments are derived; librdkafka's own names (``kafka.sasl.username``,
``kafka.ssl.ca.location`` ...) are accepted too. What a client cannot honour (a JKS trust
store, a login module without a password) is a :class:`~sparkkit.errors.ConfigError` naming
the option and what to use instead.

Secret options arrive concealed (:mod:`sparkkit.secrets`): a :class:`ClientConfig` keeps the
references (it is pickled into checkpoints and shipped to executors) and reveals the values
only when it builds a client's settings.

A broker that does not answer (down, paused, restarting) is waited for, up to the address
option ``brokerTimeout`` (default 2m): offsets and metadata requests are retried with backoff
(1 s doubling to 10 s), a read or a delivery that makes no progress keeps waiting, and each
wait is reported (``waiting for broker HOST:PORT ...``, at most every few seconds) on stderr,
to the ``sparkkit.kafka`` logger and to :data:`wait_listeners` (the live view). Past the limit
the call raises :class:`~sparkkit.errors.BrokerTimeoutError`, one line naming the broker and
the limit. A refused login or lost data is not waited for.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import re
import sys
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sparkkit.duration import ACCEPTED as DURATION_ACCEPTED
from sparkkit.duration import Duration
from sparkkit.errors import (
    BrokerTimeoutError,
    ConfigError,
    DataLossError,
    KafkaAuthenticationError,
    KafkaError,
)
from sparkkit.redaction import MASK, is_secret, redact_options
from sparkkit.secrets import reveal

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

NATIVE_PROVIDER = "org.apache.spark.sql.kafka010.KafkaSourceProvider"
CLIENTS = ("auto", "confluent", "kafka-python")
ROLES = ("consumer", "producer", "admin")
#: One record as read: key, value, topic, partition, offset, timestamp (epoch ms), timestamp type
#: (0 CreateTime, 1 LogAppendTime, as in Spark's Kafka source).
Record = tuple[bytes | None, bytes | None, str, int, int, int, int]
BATCH = 20_000


@dataclass(frozen=True)
class Records:
    """Consecutive records of one topic partition, column by column: a reader makes an Arrow
    batch of them without a tuple per record. Iterating gives each :data:`Record`."""

    topic: str
    partition: int
    keys: list[bytes | None]
    values: list[bytes | None]
    offsets: list[int]
    timestamps: list[int]
    timestamp_types: list[int]

    def __len__(self) -> int:
        return len(self.offsets)

    def __iter__(self) -> Iterator[Record]:
        t, p = self.topic, self.partition
        for key, value, offset, ms, kind in zip(
            self.keys, self.values, self.offsets, self.timestamps, self.timestamp_types, strict=True
        ):
            yield key, value, t, p, offset, ms, kind


#: Seconds a metadata or offsets request may take before the broker counts as unreachable
#: (one attempt: a job retries until ``brokerTimeout``).
TIMEOUT_S = 10.0
#: The address option that bounds every wait for a broker that does not answer, and its default.
BROKER_TIMEOUT_OPTION = "brokerTimeout"
BROKER_TIMEOUT = Duration(120_000)
#: Seconds between two attempts of a request: the first, doubled after each, at most the last.
BACKOFF_S = (1.0, 10.0)
#: A read or a delivery that makes no progress for this many seconds is reported as a wait.
STALL_S = 5.0
#: Least seconds between two reports of one wait.
REPORT_EVERY_S = 5.0

#: "waiting for broker" reports: logged here (silent unless the application configures logging).
LOG = logging.getLogger("sparkkit.kafka")
LOG.addHandler(logging.NullHandler())
#: Called with the text of each "waiting for broker" report made in this process (the live view
#: adds itself); with none, the report is printed on stderr, as on executors and in the Python
#: workers of a Structured query's Kafka reader.
wait_listeners: list[Callable[[str], None]] = []

T = TypeVar("T")

#: librdkafka's log lines (a line per failed connection attempt) go to this logger, silent unless
#: the application configures logging: sparkkit reports a failure itself, in one line.
LIBRDKAFKA_LOG = logging.getLogger("sparkkit.kafka.librdkafka")
LIBRDKAFKA_LOG.addHandler(logging.NullHandler())

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
#: Java login module (the class's last name) -> the SASL mechanisms it serves.
LOGIN_MODULES = {"ScramLoginModule": ("SCRAM-SHA-256", "SCRAM-SHA-512"), "PlainLoginModule": ("PLAIN",)}
JAAS_FORM = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="U" password="P";'


def confluent_installed() -> bool:
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        return False
    return True


# -- the translation: Java-client options -> librdkafka properties -> kafka-python keywords ----

#: Java-client names that librdkafka spells otherwise.
_JAVA_TO_LIBRDKAFKA = {
    "sasl.mechanism": "sasl.mechanisms",
    "fetch.max.wait.ms": "fetch.wait.max.ms",
    "ssl.truststore.certificates": "ssl.ca.pem",
    "ssl.keystore.certificate.chain": "ssl.certificate.pem",
    "ssl.keystore.key": "ssl.key.pem",
}

#: librdkafka properties -> kafka-python keywords, where not the name with dots as underscores.
_LIBRDKAFKA_TO_KAFKA_PYTHON = {
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.key.password": "ssl_password",
    "ssl.crl.location": "ssl_crlfile",
    "ssl.cipher.suites": "ssl_ciphers",
    "ssl.endpoint.identification.algorithm": "ssl_check_hostname",
    "fetch.wait.max.ms": "fetch_max_wait_ms",
}

#: librdkafka properties kafka-python has no equivalent of -> what to use with kafka-python.
_NOT_FOR_KAFKA_PYTHON = {
    "ssl.ca.pem": "kafka.ssl.ca.location=FILE.pem",
    "ssl.certificate.pem": "a PEM key store file (kafka.ssl.keystore.type PEM)",
    "ssl.key.pem": "a PEM key store file (kafka.ssl.keystore.type PEM)",
    "ssl.keystore.location": "a PEM key store (kafka.ssl.keystore.type PEM)",
    "ssl.keystore.password": "a PEM key store (kafka.ssl.keystore.type PEM)",
}


def shown(option: str, value: str) -> str:
    """An option's value as an error may show it: a secret's never (``***``)."""
    return MASK if is_secret(option) else value


@dataclass(frozen=True)
class Setting:
    """A librdkafka property's value, and the option (as the user named it) that gave it."""

    value: str
    option: str


def parse_jaas(text: str, option: str = "kafka.sasl.jaas.config") -> tuple[str, dict[str, str]]:
    """``Module required key="value" ...;`` -> (the module's last name, its options).

    The error names the option and the form expected, never the text (it holds a password).
    """
    match = re.fullmatch(
        r"\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\s*(.*?)\s*;?\s*", text, re.S
    )
    if not match:
        raise ConfigError(option, shown(option, text), f"not a JAAS login module entry; expected {JAAS_FORM}")
    pairs = re.findall(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s";]+)', match.group(3))
    if re.sub(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s";]+)', "", match.group(3)).strip():
        raise ConfigError(
            option, shown(option, text), f"a JAAS entry with unreadable options; expected {JAAS_FORM}"
        )
    values = {}
    for key, value in pairs:
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        values[key] = value
    return match.group(1).rsplit(".", 1)[-1], values


def _sasl(opts: dict[str, str], put: Callable[[str, str, str], None]) -> None:
    """``sasl.*`` options -> librdkafka's ``sasl.mechanisms``, ``sasl.username``, ``sasl.password``."""
    mechanism_name = "sasl.mechanism" if "sasl.mechanism" in opts else "sasl.mechanisms"
    mechanism = opts.get(mechanism_name, "").strip().upper() or None
    credentials = "sasl.jaas.config"
    if "sasl.jaas.config" in opts:
        option = "kafka.sasl.jaas.config"
        module, values = parse_jaas(opts["sasl.jaas.config"], option)
        if module not in LOGIN_MODULES:
            raise ConfigError(
                option, MASK,
                f"a {module} entry: the Python Kafka clients take a user and password only, with "
                "ScramLoginModule (SCRAM-SHA-256/512) or PlainLoginModule (PLAIN), as in " + JAAS_FORM,
            )  # fmt: skip
        if "username" not in values or "password" not in values:
            raise ConfigError(
                option, MASK, f"a {module} entry without username or password; expected {JAAS_FORM}"
            )
        mechanisms = LOGIN_MODULES[module]
        if mechanism is None and len(mechanisms) == 1:
            mechanism = mechanisms[0]
        elif mechanism is None:
            raise ConfigError("kafka.sasl.mechanism", "", f"{' or '.join(mechanisms)} with {module}")
        elif mechanism not in mechanisms:
            raise ConfigError(
                f"kafka.{mechanism_name}", mechanism, f"{' or '.join(mechanisms)} with {module}"
            )
        put("sasl.username", values["username"], option)
        put("sasl.password", values["password"], option)
    else:
        credentials = "sasl.username"
        for name in ("sasl.username", "sasl.password"):
            if name in opts:
                put(name, opts[name], "kafka." + name)
    given = any(name in opts for name in ("sasl.jaas.config", "sasl.username", "sasl.password"))
    if given and mechanism is None:
        raise ConfigError(
            "kafka.sasl.mechanism", "", f"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with kafka.{credentials}"
        )
    if mechanism is not None:
        put("sasl.mechanisms", mechanism, f"kafka.{mechanism_name}")
    protocol = opts.get("security.protocol", "PLAINTEXT").strip().upper()
    if given and not protocol.startswith("SASL_"):
        raise ConfigError(
            "kafka.security.protocol", protocol, f"SASL_PLAINTEXT or SASL_SSL to use kafka.{credentials}"
        )


def _ssl(opts: dict[str, str], put: Callable[[str, str, str], None]) -> None:
    """Java trust and key stores -> librdkafka's ``ssl.ca.location``, ``ssl.certificate.location`` ..."""
    if "ssl.truststore.location" in opts:
        option, kind = "kafka.ssl.truststore.location", opts.get("ssl.truststore.type", "JKS").upper()
        if kind != "PEM":
            raise ConfigError(
                option, f"{opts['ssl.truststore.location']} (a {kind} trust store)",
                "neither Python Kafka client reads JKS or PKCS12 trust stores: give the CA certificates "
                "as a PEM file, kafka.ssl.ca.location=FILE.pem (or kafka.ssl.truststore.type=PEM if it "
                "is one); "
                "keytool -exportcert -rfc -keystore STORE -alias CA -file FILE.pem makes one",
            )  # fmt: skip
        put("ssl.ca.location", opts["ssl.truststore.location"], option)
    if "ssl.keystore.location" in opts:
        option, kind = "kafka.ssl.keystore.location", opts.get("ssl.keystore.type", "JKS").upper()
        if kind == "PEM":  # one file with the certificate chain and the private key
            put("ssl.certificate.location", opts["ssl.keystore.location"], option)
            put("ssl.key.location", opts["ssl.keystore.location"], option)
        elif kind == "PKCS12":
            put("ssl.keystore.location", opts["ssl.keystore.location"], option)
            if "ssl.keystore.password" in opts:
                put("ssl.keystore.password", opts["ssl.keystore.password"], "kafka.ssl.keystore.password")
        else:
            raise ConfigError(
                option, MASK,
                f"a {kind} key store, which the Python Kafka clients cannot read: use a PEM key store "
                "(kafka.ssl.keystore.type PEM: one file with the certificate and its key), or "
                "kafka.ssl.certificate.location and kafka.ssl.key.location, or PKCS12 with client=confluent",
            )  # fmt: skip
    if "ssl.endpoint.identification.algorithm" in opts:
        option = "kafka.ssl.endpoint.identification.algorithm"
        algorithm = opts["ssl.endpoint.identification.algorithm"].strip().lower()
        if algorithm not in ("", "none", "https"):
            raise ConfigError(option, algorithm, "https (check the broker's host name) or empty (do not)")
        put("ssl.endpoint.identification.algorithm", algorithm or "none", option)


#: Java options consumed by the SASL and SSL translation above (the rest map name by name).
_TRANSLATED = {
    "sasl.mechanism", "sasl.mechanisms", "sasl.jaas.config", "sasl.username", "sasl.password",
    "security.protocol", "ssl.truststore.location", "ssl.truststore.type", "ssl.truststore.password",
    "ssl.keystore.location", "ssl.keystore.type", "ssl.keystore.password",
    "ssl.endpoint.identification.algorithm",
}  # fmt: skip


def librdkafka_settings(options: dict[str, str]) -> dict[str, Setting]:
    """``kafka.*`` options (Java-client or librdkafka names) -> librdkafka properties.

    Keys are lower-cased option names with their ``kafka.`` prefix; values are the real ones
    (revealed). Raises :class:`ConfigError` for what neither Python client can use.
    """
    opts = {k.lower().removeprefix("kafka."): v for k, v in options.items() if k.lower().startswith("kafka.")}
    out: dict[str, Setting] = {}

    def put(prop: str, value: str, option: str) -> None:
        out[prop] = Setting(value, option)

    if "security.protocol" in opts:
        protocol = opts["security.protocol"].strip().upper()
        if protocol not in SECURITY_PROTOCOLS:
            raise ConfigError("kafka.security.protocol", protocol, ", ".join(SECURITY_PROTOCOLS))
        put("security.protocol", protocol, "kafka.security.protocol")
    _sasl(opts, put)
    _ssl(opts, put)
    for name, value in opts.items():
        if name not in _TRANSLATED:
            put(_JAVA_TO_LIBRDKAFKA.get(name, name), value, "kafka." + name)
    return out


def _kafka_python_defaults(role: str | None) -> dict[str, Any]:
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient

    by_role = {
        "consumer": KafkaConsumer.DEFAULT_CONFIG,
        "producer": KafkaProducer.DEFAULT_CONFIG,
        "admin": KafkaAdminClient.DEFAULT_CONFIG,
    }
    if role is not None:
        return dict(by_role[role])
    return {**by_role["admin"], **by_role["producer"], **by_role["consumer"]}


def _kafka_python_value(default: Any, text: str) -> Any:
    """An option string as the type of kafka-python's default for it (``"false"`` -> False)."""
    if isinstance(default, bool):
        return text.strip().lower() in ("true", "1", "yes")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    return text


def kafka_python_settings(settings: dict[str, Setting], role: str | None = None) -> dict[str, Any]:
    """librdkafka properties -> kafka-python keyword arguments for a ``role`` client (None: any).

    A setting only another kind of kafka-python client takes is left out (a consumer's
    ``max.poll.records`` for a producer); one no kafka-python client has is refused.
    """
    known, mine = _kafka_python_defaults(None), _kafka_python_defaults(role)
    out: dict[str, Any] = {}
    for prop, setting in settings.items():
        if prop in _NOT_FOR_KAFKA_PYTHON:
            raise ConfigError(
                setting.option, shown(setting.option, setting.value),
                f"kafka-python cannot use it: use {_NOT_FOR_KAFKA_PYTHON[prop]}, or client=confluent",
            )  # fmt: skip
        name = _LIBRDKAFKA_TO_KAFKA_PYTHON.get(prop, prop.replace(".", "_"))
        if name not in known:
            raise ConfigError(
                setting.option, shown(setting.option, setting.value),
                "kafka-python has no such setting; use client=confluent for librdkafka's, or leave it out",
            )  # fmt: skip
        if name in mine:
            if prop == "ssl.endpoint.identification.algorithm":
                out[name] = setting.value == "https"
                continue
            try:
                out[name] = _kafka_python_value(known[name], setting.value)
            except ValueError:
                raise ConfigError(
                    setting.option, shown(setting.option, setting.value), f"a {type(known[name]).__name__}"
                ) from None
    return out


def client_options(options: dict[str, str]) -> dict[str, Any]:
    """``kafka.*`` options -> kafka-python keyword arguments (``kafka.security.protocol`` ->
    ``security_protocol``), for any kind of kafka-python client; other options are ignored."""
    return kafka_python_settings(librdkafka_settings(reveal(options)))


# -- one client configuration -----------------------------------------------------------------


def _librdkafka_refusal(exc: Exception, settings: dict[str, Setting]) -> ConfigError:
    """librdkafka's refusal of a property -> ConfigError naming the option that gave it."""
    text = str(exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else exc)
    for prop in sorted(settings, key=len, reverse=True):
        if f'"{prop}"' in text or f"`{prop}`" in text or f"{prop} " in text or f"{prop}:" in text:
            setting = settings[prop]
            return ConfigError(
                setting.option,
                shown(setting.option, setting.value),
                f"librdkafka (client=confluent) refuses it: {text}",
            )
    return ConfigError(
        "kafka.*", "(the client settings)", f"librdkafka (client=confluent) refuses them: {text}"
    )


@dataclass(frozen=True, repr=False)
class ClientConfig:
    """How to reach Kafka: bootstrap servers, the client to use, and the ``kafka.*`` settings.

    ``options`` hold secrets as references (picklable, printable); :meth:`kafka_python`,
    :meth:`confluent` and :meth:`java` reveal them into the settings they build, for a client
    made at once. ``timeout_ms``: how long to wait for a broker that does not answer
    (``brokerTimeout``).
    """

    bootstrap: str
    kind: str = "kafka-python"
    options: dict[str, str] = field(default_factory=dict)
    timeout_ms: int = BROKER_TIMEOUT.ms

    def __repr__(self) -> str:
        return f"ClientConfig({self.bootstrap!r}, {self.kind!r}, {redact_options(self.options)!r})"

    @classmethod
    def from_params(cls, bootstrap: str, params: dict[str, str]) -> ClientConfig:
        """From address options (any case); ``client`` chooses the client library, ``brokerTimeout``
        bounds the wait for a broker that does not answer."""
        lowered = {k.lower(): v for k, v in params.items()}
        timeout = broker_timeout(lowered.get(BROKER_TIMEOUT_OPTION.lower()))
        kind = lowered.get("client", "auto")
        if kind not in CLIENTS:
            raise ConfigError("client", kind, "auto, confluent or kafka-python")
        if kind == "auto":
            kind = "confluent" if confluent_installed() else "kafka-python"
        elif kind == "confluent" and not confluent_installed():
            raise ConfigError(
                "client", kind, "kafka-python, or install confluent-kafka (pip install sparkkit[fast])"
            )
        options = {k: v for k, v in lowered.items() if k.startswith("kafka.")}
        return cls(bootstrap, kind, options, timeout.ms)

    @property
    def timeout(self) -> Duration:
        """``brokerTimeout``: how long a broker may not answer before a call fails."""
        return Duration(self.timeout_ms)

    def settings(self) -> dict[str, Setting]:
        """The librdkafka properties of the options, secrets revealed."""
        return librdkafka_settings(reveal(self.options))

    def kafka_python(self, role: str = "consumer") -> dict[str, Any]:
        """kafka-python keyword arguments for a ``role`` client (consumer, producer or admin)."""
        base: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if role == "consumer":
            base["enable_auto_commit"] = False
        return {**base, **kafka_python_settings(self.settings(), role)}

    def confluent(self, role: str = "consumer") -> dict[str, Any]:
        """librdkafka properties for a ``role`` client (consumer, producer or admin)."""
        base: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "logger": LIBRDKAFKA_LOG}
        if role == "consumer":
            base.update({"group.id": "sparkkit", "enable.auto.commit": False, "enable.partition.eof": False})
        return {**base, **{prop: s.value for prop, s in self.settings().items()}}

    def java(self) -> dict[str, str]:
        """The options for Spark's own Kafka connector (the Java client), secrets revealed.

        Java names pass as they are; librdkafka's spellings become Java's (``kafka.sasl.username``
        and ``kafka.sasl.password`` a JAAS entry, ``kafka.ssl.ca.location`` a PEM trust store).
        """
        opts = reveal(self.options)
        settings = librdkafka_settings(opts)  # refuses what no client can use
        aliases = (
            "kafka.sasl.username",
            "kafka.sasl.password",
            "kafka.sasl.mechanisms",
            "kafka.ssl.ca.location",
        )
        out = {k: v for k, v in opts.items() if k not in aliases}
        if "sasl.mechanisms" in settings:  # given, or implied by the login module (Java's default: GSSAPI)
            out["kafka.sasl.mechanism"] = settings["sasl.mechanisms"].value
        if "kafka.sasl.username" in opts and "sasl.username" in settings:
            module = (
                "plain.PlainLoginModule"
                if settings["sasl.mechanisms"].value == "PLAIN"
                else "scram.ScramLoginModule"
            )
            user, password = (
                settings[p].value.replace('"', '\\"') for p in ("sasl.username", "sasl.password")
            )
            out["kafka.sasl.jaas.config"] = (
                f'org.apache.kafka.common.security.{module} required username="{user}" password="{password}";'
            )
        if "kafka.ssl.ca.location" in opts:
            out["kafka.ssl.truststore.type"] = "PEM"
            out["kafka.ssl.truststore.location"] = opts["kafka.ssl.ca.location"]
        return out

    def check(self) -> None:
        """Refuse, before anything connects, settings the chosen client cannot use (ConfigError)."""
        settings = self.settings()
        if self.kind == "kafka-python":
            for role in ROLES:
                kafka_python_settings(settings, role)
            return
        from confluent_kafka import KafkaException, Producer

        try:  # no bootstrap servers: librdkafka checks every property and loads the files, connects nowhere
            Producer({prop: s.value for prop, s in settings.items()} | {"log_level": 0})
        except (KafkaException, ValueError, TypeError) as exc:
            raise _librdkafka_refusal(exc, settings) from None

    def describe(self) -> str:
        return f"Kafka at {self.bootstrap} (client {self.kind})"


def broker_timeout(text: str | None) -> Duration:
    """The ``brokerTimeout`` option's value (None: the default), more than zero; else ConfigError."""
    if text is None:
        return BROKER_TIMEOUT
    try:
        timeout = Duration.parse(text)
    except ValueError:
        timeout = Duration(0)
    if timeout.ms <= 0:
        raise ConfigError(
            BROKER_TIMEOUT_OPTION, text,
            f"{DURATION_ACCEPTED}, more than 0: how long to wait for a Kafka broker that does not answer",
        )  # fmt: skip
    return timeout


def checked_client(bootstrap: str, address: Any, option: str) -> ClientConfig:
    """The address's client, its settings checked (:meth:`ClientConfig.check`); a refusal names
    the address option (``--source``, ``--sink``, ``ADDRESS``) it came from."""
    try:
        client = ClientConfig.from_params(bootstrap, address.params)
        client.check()
    except ConfigError as exc:
        if exc.option == "client":
            raise ConfigError(option, address.raw, f"client= must be {exc.accepted}") from None
        raise ConfigError(exc.option, exc.value, exc.accepted, f"{option} {address.location}") from None
    return client


def tp_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


# -- reaching the broker ----------------------------------------------------------------------

#: Words in a client's error that mean the broker refused the credentials.
_AUTH_WORDS = ("authentication", "credentials", "unknown-user", "not authenticated", "invalid-proof")
#: Said when a broker that accepts TCP connections does not let the client in.
_PROTOCOL_HINT = "if the broker needs TLS or credentials, check kafka.security.protocol and kafka.sasl.*"


def _kafka_failure(client: ClientConfig, doing: str, reason: object, auth: bool | None = None) -> KafkaError:
    """A client's failure as sparkkit's error, in one line: refused credentials apart (exit 2).

    ``auth`` says whether the broker refused the credentials; None: judge by the words.
    """
    text = _one_line(reason)
    if auth is None:
        auth = any(word in text.lower() for word in _AUTH_WORDS)
    if auth:
        return KafkaAuthenticationError(
            f"{client.describe()} refused the credentials while {doing}: {text}; check kafka.sasl.mechanism "
            "and the user and password of kafka.sasl.jaas.config (or kafka.sasl.username/password)"
        )
    failure = KafkaError(f"{client.describe()} failed while {doing}: {text}")
    failure.reason = text  # type: ignore[attr-defined]
    return failure


def _one_line(reason: object) -> str:
    return " ".join(str(reason).split()) or type(reason).__name__


# -- waiting for a broker that does not answer ------------------------------------------------


def _report(text: str) -> None:
    """A "waiting for broker" report: to the logger, and to the listeners or else stderr."""
    LOG.warning(text)
    if wait_listeners:
        for listener in list(wait_listeners):
            listener(text)
    else:
        print(f"[sparkkit] {text}", file=sys.stderr, flush=True)


class BrokerWait:
    """One wait for a broker that does not answer, bounded by the client's ``brokerTimeout``.

    Requests call :meth:`failed` after each failed attempt (it backs off, then returns for the
    next); reads and deliveries call :meth:`stalled` while they make no progress and
    :meth:`progressed` when they do. Both report the wait (rate-limited) and raise
    :class:`BrokerTimeoutError` once the broker has not answered for the limit.
    """

    def __init__(self, client: ClientConfig, doing: str) -> None:
        self.client, self.doing = client, doing
        self.started = time.monotonic()
        self.backoff = BACKOFF_S[0]
        self.reported = 0.0

    @property
    def waited(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining(self) -> float:
        return self.client.timeout_ms / 1000 - self.waited

    def attempt_timeout(self) -> float:
        """Seconds the next attempt may take: :data:`TIMEOUT_S`, but a quarter of a short limit
        (so that even then the wait is retried and reported), less near its end; at least 1."""
        return max(1.0, min(TIMEOUT_S, self.client.timeout_ms / 4000, self.remaining))

    def failed(self, reason: object) -> None:
        """An attempt failed: report and back off, or raise past the limit."""
        if self.remaining <= 0:
            raise self.timeout(reason)
        self.report()
        time.sleep(max(0.0, min(self.backoff, self.remaining)))
        self.backoff = min(self.backoff * 2, BACKOFF_S[1])

    def stalled(self, reason: object = "no progress") -> None:
        """No progress since :meth:`progressed`: report after :data:`STALL_S`, raise past the limit."""
        if self.remaining <= 0:
            raise self.timeout(reason)
        if self.waited >= STALL_S:
            self.report()

    def progressed(self) -> None:
        self.started, self.backoff = time.monotonic(), BACKOFF_S[0]

    def report(self) -> None:
        now = time.monotonic()
        if self.reported and now - self.reported < REPORT_EVERY_S:
            return
        self.reported = now
        _report(
            f"waiting for broker {self.client.bootstrap}: no answer for {self.waited:.0f}s "
            f"(brokerTimeout {self.client.timeout}) while {self.doing}"
        )

    def timeout(self, reason: object) -> BrokerTimeoutError:
        return broker_timeout_error(self.client, self.doing, reason)


def broker_timeout_error(client: ClientConfig, doing: str, reason: object) -> BrokerTimeoutError:
    """The one line a job fails with when its broker did not answer within ``brokerTimeout``."""
    text = getattr(reason, "reason", None) or _one_line(reason)
    brokers = "broker" if "," not in client.bootstrap else "brokers"
    return BrokerTimeoutError(
        f"Kafka {brokers} {client.bootstrap} did not answer for {client.timeout} ({BROKER_TIMEOUT_OPTION}) "
        f"while {doing} (client {client.kind}: {text}); raise {BROKER_TIMEOUT_OPTION} to wait longer"
    )


def _retrying(client: ClientConfig, doing: str, attempt: Callable[[float], T]) -> T:
    """``attempt(timeout)`` until it succeeds, retrying a :class:`KafkaError` (not a refused login,
    not lost data) with backoff until ``brokerTimeout``; ``timeout``: seconds the attempt may take."""
    wait = BrokerWait(client, doing)
    while True:
        try:
            return attempt(wait.attempt_timeout())
        except (KafkaAuthenticationError, DataLossError, BrokerTimeoutError):
            raise
        except KafkaError as exc:
            wait.failed(exc)


def topic_partitions(
    client: ClientConfig, topics: Sequence[str] = (), timeout: float = TIMEOUT_S
) -> dict[str, int]:
    """The partition count of each of ``topics`` (0: the topic does not exist), asking the broker
    with the client's own settings: the reachability check of sources, sinks and ``produce``.

    Raises :class:`KafkaAuthenticationError` as soon as the broker refuses the credentials, and
    :class:`KafkaError` when it does not let the client in within ``timeout`` seconds.
    """
    if client.kind == "confluent":
        return _topic_partitions_confluent(client, topics, timeout)
    return _topic_partitions_kafka_python(client, topics, timeout)


class _Records(logging.Handler):
    """Keeps the warnings kafka-python logs while it connects: its only account of why it failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def refused(self) -> str | None:
        """Why the broker refused the credentials, when it did: a failed SASL exchange."""
        texts = [(r.name, r.getMessage()) for r in self.records]
        for _, text in texts:
            if "SaslAuthenticationFailed" in text or "authentication failed" in text.lower():
                return text
        in_sasl = False
        for name, text in texts:  # kafka-python's SCRAM gives up on a server's error as a KeyError
            in_sasl = in_sasl or name.startswith("kafka.net.sasl")
            if in_sasl and ("Abort" in text or "Connection lost" in text):
                return f"the SASL exchange broke off ({text.rsplit(':', 1)[-1].strip()})"
        return None


def _topic_partitions_kafka_python(
    client: ClientConfig, topics: Sequence[str], timeout: float
) -> dict[str, int]:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError as ClientError

    settings = {**client.kafka_python(), "request_timeout_ms": int(timeout * 1000)}
    deadline = time.monotonic() + timeout
    logger = logging.getLogger("kafka")
    while True:  # short attempts: kafka-python retries a refused login until its bootstrap timeout
        records = _Records()
        logger.addHandler(records)
        try:
            consumer = KafkaConsumer(**settings, bootstrap_timeout_ms=2000)
            break
        except ClientError as exc:
            refused = records.refused()
            if refused is not None:
                raise _kafka_failure(client, "connecting", refused, auth=True) from None
            if time.monotonic() > deadline:
                raise _kafka_failure(client, "connecting", f"{exc}; {_PROTOCOL_HINT}", auth=False) from None
        finally:
            logger.removeHandler(records)
    try:
        known = consumer.topics()
        return {t: len(consumer.partitions_for_topic(t) or ()) if t in known else 0 for t in topics}
    except ClientError as exc:
        raise _kafka_failure(client, "asking for topic metadata", exc) from None
    finally:
        consumer.close()


def _confluent_consumer(
    client: ClientConfig, overrides: dict[str, Any] | None = None
) -> tuple[Any, list[Any]]:
    """A librdkafka consumer, and the list its errors (authentication ...) are kept in: librdkafka
    reports them to a callback and goes on retrying, so callers look at the list as they wait."""
    from confluent_kafka import Consumer

    errors: list[Any] = []
    consumer = Consumer({**client.confluent(), **(overrides or {}), "error_cb": errors.append})
    return consumer, errors


def _raise_confluent_errors(client: ClientConfig, errors: list[Any], doing: str) -> None:
    for error in errors:
        if error.code() in _confluent_auth_codes():
            raise _kafka_failure(client, doing, error.str(), auth=True)
        if error.fatal():
            raise _kafka_failure(client, doing, error.str())


def _topic_partitions_confluent(
    client: ClientConfig, topics: Sequence[str], timeout: float
) -> dict[str, int]:
    from confluent_kafka import KafkaError as Code
    from confluent_kafka import KafkaException

    consumer, errors = _confluent_consumer(client)
    try:
        started = time.monotonic()
        while True:  # short waits, so that a refused login ends the wait at once
            consumer.poll(0)  # serves error_cb
            _raise_confluent_errors(client, errors, "connecting")
            down = [e for e in errors if e.code() == Code._ALL_BROKERS_DOWN]
            if down and time.monotonic() - started > min(timeout, 3.0):
                raise _kafka_failure(client, "connecting", f"{down[-1].str()}; {_PROTOCOL_HINT}", auth=False)
            try:
                metadata = consumer.list_topics(timeout=0.5)
                break
            except KafkaException as exc:
                if time.monotonic() - started > timeout:
                    reason = f"{exc.args[0].str()}; {_PROTOCOL_HINT}"
                    raise _kafka_failure(client, "asking for topic metadata", reason, auth=False) from None
        return {t: len(metadata.topics[t].partitions) if t in metadata.topics else 0 for t in topics}
    finally:
        consumer.close()


# -- offsets ----------------------------------------------------------------------------------


def fetch_offsets(client: ClientConfig, topics: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Beginning and end offsets of every partition of ``topics``, keyed ``topic:partition``.

    The end is the partition's high watermark as a Fetch response states it. ListOffsets
    (latest) says the same on Apache Kafka, but tansu answers it with the base offset of the
    partition's last record batch + 1, hiding the rest of that batch. So, for each partition
    that is not empty, one Fetch from the listed end - 1 (a record is there, so the broker
    answers at once, with at most one small batch) reads the high watermark: one round trip.

    A broker that does not answer is asked again, with backoff, until ``brokerTimeout``
    (:class:`BrokerTimeoutError`).
    """
    doing = f"reading the offsets of {','.join(topics)}"
    if client.kind == "confluent":
        return _retrying(client, doing, lambda timeout: _offsets_confluent(client, topics, timeout))
    return _retrying(client, doing, lambda timeout: _offsets_kafka_python(client, topics, timeout))


def _kafka_python_timeouts(timeout: float) -> dict[str, int]:
    """kafka-python settings that bound one attempt to about ``timeout`` seconds (the options
    may set others)."""
    ms = int(timeout * 1000)
    return {"request_timeout_ms": ms, "bootstrap_timeout_ms": ms}


def _offsets_kafka_python(
    client: ClientConfig, topics: Sequence[str], timeout: float = TIMEOUT_S
) -> tuple[dict[str, int], dict[str, int]]:
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError as ClientError

    doing = f"reading the offsets of {','.join(topics)}"
    try:
        # A probe fetch needs no more than a batch: the broker returns one whole batch anyway.
        consumer = KafkaConsumer(
            **{**_kafka_python_timeouts(timeout), **client.kafka_python(),
               "max_partition_fetch_bytes": 1, "fetch_max_bytes": 1}
        )  # fmt: skip
    except ClientError as exc:
        raise _kafka_failure(client, doing, exc) from None
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        begin = consumer.beginning_offsets(tps) if tps else {}
        end = consumer.end_offsets(tps) if tps else {}
        probed = [tp for tp in tps if end[tp] > begin[tp]]
        if probed:
            consumer.assign(probed)
            for tp in probed:
                consumer.seek(tp, end[tp] - 1)
            deadline = time.monotonic() + timeout
            while any(consumer.highwater(tp) is None for tp in probed) and time.monotonic() < deadline:
                consumer.poll(timeout_ms=100, max_records=len(probed))
            for tp in probed:
                end[tp] = max(end[tp], consumer.highwater(tp) or 0)
    except ClientError as exc:
        raise _kafka_failure(client, doing, exc) from None
    finally:
        consumer.close()
    return (
        {tp_key(tp.topic, tp.partition): int(o) for tp, o in begin.items()},
        {tp_key(tp.topic, tp.partition): int(o) for tp, o in end.items()},
    )


def _offsets_confluent(
    client: ClientConfig, topics: Sequence[str], timeout: float = TIMEOUT_S
) -> tuple[dict[str, int], dict[str, int]]:
    from confluent_kafka import KafkaException, TopicPartition

    doing = f"reading the offsets of {','.join(topics)}"
    consumer, errors = _confluent_consumer(client, {"max.partition.fetch.bytes": 1})
    begin: dict[str, int] = {}
    end: dict[str, int] = {}
    try:
        tps = []
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
            if metadata is not None and metadata.error is None:
                tps += [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        for tp in tps:
            begin[tp_key(tp.topic, tp.partition)], end[tp_key(tp.topic, tp.partition)] = (
                consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
            )
        probed = [
            tp for tp in tps if end[tp_key(tp.topic, tp.partition)] > begin[tp_key(tp.topic, tp.partition)]
        ]
        if probed:
            consumer.assign(
                [TopicPartition(t.topic, t.partition, end[tp_key(t.topic, t.partition)] - 1) for t in probed]
            )

            def high(tp: Any) -> int:
                return int(consumer.get_watermark_offsets(tp, cached=True)[1])

            deadline = time.monotonic() + timeout
            while any(high(tp) < 0 for tp in probed) and time.monotonic() < deadline:
                consumer.consume(num_messages=len(probed), timeout=0.1)
                _raise_confluent_errors(client, errors, doing)
            for tp in probed:
                key = tp_key(tp.topic, tp.partition)
                end[key] = max(end[key], high(tp))
    except KafkaException as exc:
        _raise_confluent_errors(client, errors, doing)
        raise _kafka_failure(client, doing, exc.args[0].str()) from None
    finally:
        consumer.close()
    return begin, end


# -- reading ----------------------------------------------------------------------------------


def _first_position(topic: str, partition: int, start: int, first: int, fail_on_data_loss: bool) -> int:
    """Where reading starts: ``start``, unless retention removed it (``failOnDataLoss``)."""
    if first <= start:
        return start
    if fail_on_data_loss:
        raise DataLossError(
            f"{topic}:{partition} offsets {start}..{first - 1} were lost (retention?); "
            "set failOnDataLoss=false to skip them"
        )
    return first


def read_batches(
    client: ClientConfig, topic: str, partition: int, start: int, end: int, fail_on_data_loss: bool
) -> Iterator[Records]:
    """The records of ``topic:partition`` from ``start`` to ``end`` (exclusive), a batch at a time.

    A broker that stops answering is waited for: the read goes on where it was when the broker
    answers again, and raises :class:`BrokerTimeoutError` when no record came for ``brokerTimeout``.
    """
    if client.kind == "confluent":
        return _read_confluent(client, topic, partition, start, end, fail_on_data_loss)
    return _read_kafka_python(client, topic, partition, start, end, fail_on_data_loss)


def _read_kafka_python(
    client: ClientConfig, topic: str, partition: int, start: int, end: int, fail_on_data_loss: bool
) -> Iterator[Records]:
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError as ClientError

    doing = f"reading {topic}:{partition}"
    tp = TopicPartition(topic, partition)

    def connect(timeout: float) -> tuple[Any, int]:
        try:
            consumer = KafkaConsumer(**{**_kafka_python_timeouts(timeout), **client.kafka_python()})
        except ClientError as exc:
            raise _kafka_failure(client, doing, exc) from None
        try:
            return consumer, consumer.beginning_offsets([tp], int(timeout * 1000))[tp]
        except ClientError as exc:
            consumer.close()
            raise _kafka_failure(client, doing, exc) from None

    consumer, first = _retrying(client, doing, connect)
    try:
        consumer.assign([tp])
        position = _first_position(topic, partition, start, first, fail_on_data_loss)
        consumer.seek(tp, position)
        wait = BrokerWait(client, doing)
        while position < end:
            try:
                polled = consumer.poll(timeout_ms=1000).get(tp, [])
            except ClientError as exc:
                if not getattr(exc, "retriable", False):
                    raise _kafka_failure(client, doing, exc) from None
                wait.stalled(exc)
                continue
            polled = [r for r in polled if r.offset < end]
            if polled:
                position = polled[-1].offset + 1
                yield Records(
                    topic, partition, [r.key for r in polled], [r.value for r in polled],
                    [r.offset for r in polled], [r.timestamp for r in polled],
                    [r.timestamp_type for r in polled],
                )  # fmt: skip
                wait.progressed()  # the time the batch spent downstream is not the broker's
            else:
                wait.stalled()
    finally:
        consumer.close()


#: librdkafka timestamp types -> Spark's: 1 CreateTime -> 0, 2 LogAppendTime -> 1.
_CONFLUENT_TIMESTAMP_TYPES = {0: 0, 1: 0, 2: 1}


def _read_confluent(
    client: ClientConfig, topic: str, partition: int, start: int, end: int, fail_on_data_loss: bool
) -> Iterator[Records]:
    from confluent_kafka import KafkaException, TopicPartition

    doing = f"reading {topic}:{partition}"
    consumer, errors = _confluent_consumer(client)
    try:

        def first_offset(timeout: float) -> int:
            try:
                return int(
                    consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)[0]
                )
            except KafkaException as exc:
                _raise_confluent_errors(client, errors, doing)
                raise _kafka_failure(client, doing, exc.args[0].str()) from None

        first = _retrying(client, doing, first_offset)
        position = _first_position(topic, partition, start, first, fail_on_data_loss)
        consumer.assign([TopicPartition(topic, partition, position)])
        types = _CONFLUENT_TIMESTAMP_TYPES
        wait = BrokerWait(client, doing)
        while position < end:
            # Ask for no more than remain: consume() waits for its count or its timeout.
            messages = consumer.consume(num_messages=min(BATCH, end - position), timeout=1.0)
            stall = None
            for i, error in enumerate([m.error() for m in messages]):
                if error is not None:  # what came before it is good
                    if not error.retriable() and error.code() not in _confluent_transient_codes():
                        raise _kafka_failure(client, doing, error.str())
                    stall, messages = error.str(), messages[:i]
                    break
            offsets = [m.offset() for m in messages]
            if offsets and offsets[-1] >= end:
                offsets = offsets[: bisect.bisect_left(offsets, end)]
                messages = messages[: len(offsets)]
            if messages:
                position = offsets[-1] + 1
                # (kind, ms) pairs dropped at once: a list of them would set the collector going
                yield Records(
                    topic, partition, [m.key() for m in messages], [m.value() for m in messages],
                    offsets, [m.timestamp()[1] for m in messages],
                    [types.get(m.timestamp()[0], 0) for m in messages],
                )  # fmt: skip
                wait.progressed()  # the time the batch spent downstream is not the broker's
            else:
                _raise_confluent_errors(client, errors, doing)
                wait.stalled(stall or (errors[-1].str() if errors else "no records"))
    finally:
        consumer.close()


# -- writing ----------------------------------------------------------------------------------


class Sender:
    """A producer of the client's kind: :meth:`send`, then :meth:`flush` raises :class:`KafkaError`
    when a record was not delivered; :meth:`close` at the end.

    A broker that does not answer is waited for up to the client's ``brokerTimeout``: a record
    not delivered within it fails the flush with :class:`BrokerTimeoutError`.
    """

    def __init__(self, client: ClientConfig, overrides: dict[str, Any] | None = None) -> None:
        """``overrides``: producer settings in the client's own spelling (kafka-python keywords
        or librdkafka properties) that the options may change."""
        self.client = client
        self.failures: list[tuple[str, bool]] = []  # (why, timed out)
        self.sent = 0
        self.delivered = 0
        self.topics: set[str] = set()
        limit = client.timeout_ms
        if client.kind == "confluent":
            from confluent_kafka import Producer

            def on_error(error: Any) -> None:
                if error.fatal() or error.code() in _confluent_auth_codes():
                    self.failures.append((error.str(), False))

            defaults = {"message.timeout.ms": limit}
            self._confluent = Producer(
                {**defaults, **(overrides or {}), **client.confluent("producer"), "error_cb": on_error}
            )
        else:
            # a send blocks up to max_block_ms for the topic's metadata or room in the buffer:
            # one attempt, retried (and reported) until brokerTimeout like any request
            attempt = int(min(TIMEOUT_S * 1000, limit))
            defaults = {"max_block_ms": attempt, "delivery_timeout_ms": limit,
                        "request_timeout_ms": min(30_000, limit)}  # fmt: skip
            settings = {**defaults, **(overrides or {}), **client.kafka_python("producer")}
            self._kafka_python = _retrying(
                client,
                "connecting a producer",
                lambda timeout: self._kafka_python_producer(settings, timeout),
            )

    def _kafka_python_producer(self, settings: dict[str, Any], timeout: float) -> Any:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError as ClientError

        try:
            return KafkaProducer(**{**settings, "bootstrap_timeout_ms": int(timeout * 1000)})
        except ClientError as exc:
            raise _kafka_failure(self.client, "connecting a producer", exc) from None

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is None:
            self.delivered += 1
            return
        from confluent_kafka import KafkaError as Code

        self.failures.append((error.str(), error.code() == Code._MSG_TIMED_OUT or error.retriable()))

    def _sent(self, _metadata: Any) -> None:
        self.delivered += 1

    def _failed(self, exc: BaseException) -> None:
        # kafka-python retries what may succeed later (a timed-out request ...) until the
        # delivery timeout: such an error at the end means the broker did not answer in time.
        # A timed-out InitProducerId (the idempotent producer's first request) comes wrapped in a
        # plain fatal KafkaError whose text is all that says it timed out.
        why = str(exc) or type(exc).__name__
        timed_out = bool(getattr(exc, "retriable", False)) or "RequestTimedOutError" in why
        self.failures.append((why, timed_out))

    def send(
        self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None
    ) -> None:
        """Hand one record to the producer; ``partition`` None lets the client choose."""
        self.sent += 1
        self.topics.add(topic)
        if self.client.kind != "confluent":
            from kafka.errors import KafkaError as ClientError
            from kafka.errors import KafkaTimeoutError

            wait = None
            while True:
                try:
                    future = self._kafka_python.send(topic, value=value, key=key, partition=partition)
                    break
                except KafkaTimeoutError as exc:  # no metadata, or no room, within max_block_ms: not sent
                    wait = wait or BrokerWait(self.client, f"sending to {topic}")
                    wait.failed(exc)
                except ClientError as exc:
                    raise _kafka_failure(self.client, f"sending to {topic}", exc) from None
            future.add_callback(self._sent).add_errback(self._failed)
            return
        while True:
            try:
                unassigned = -1  # librdkafka's RD_KAFKA_PARTITION_UA: its partitioner chooses
                self._confluent.produce(
                    topic, value=value, key=key, on_delivery=self._delivered,
                    partition=unassigned if partition is None else partition,
                )  # fmt: skip
                break
            except BufferError:  # the local queue is full: let deliveries make room
                self._confluent.poll(0.1)
                self._check(f"sending to {topic}")
        self._confluent.poll(0)

    def _check(self, doing: str) -> None:
        if self.failures:
            why, timed_out = self.failures[0]
            if timed_out:
                raise broker_timeout_error(self.client, doing, why)
            raise _kafka_failure(self.client, doing, why)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every record sent is delivered (or ``timeout`` seconds); KafkaError if one was not.

        While deliveries make no progress the wait is reported; past ``brokerTimeout`` it fails.
        """
        from kafka.errors import KafkaError as ClientError
        from kafka.errors import KafkaTimeoutError

        doing = (
            f"delivering {self.sent - self.delivered} records to {','.join(sorted(self.topics)) or 'Kafka'}"
        )
        wait = BrokerWait(self.client, doing)
        started, delivered = time.monotonic(), self.delivered
        while True:
            left = 0
            step = 1.0 if timeout is None else max(0.0, min(1.0, started + timeout - time.monotonic()))
            if self.client.kind == "confluent":
                left = self._confluent.flush(step)
            else:
                try:
                    self._kafka_python.flush(step)
                except KafkaTimeoutError:
                    left = self.sent - self.delivered - len(self.failures)
                except ClientError as exc:
                    raise _kafka_failure(self.client, doing, exc) from None
            self._check(doing)
            if not left:
                return
            if timeout is not None and time.monotonic() - started >= timeout:
                raise KafkaError(
                    f"{self.client.describe()}: {left} records still undelivered after {timeout} s"
                )
            if self.delivered > delivered:
                delivered = self.delivered
                wait.progressed()
            else:
                wait.stalled(f"{left} records not delivered")

    def close(self) -> None:
        """Let go of the producer at once; what it has not delivered is :meth:`flush`'s to report."""
        from kafka.errors import KafkaError as ClientError

        if self.client.kind == "confluent":
            self._confluent.flush(0)
            return
        with contextlib.suppress(ClientError):  # records in flight: never hide the error that ends a batch
            self._kafka_python.close(timeout=0)


def _confluent_transient_codes() -> tuple[int, ...]:
    """librdkafka's error codes for a broker that is not answering now, and may again."""
    from confluent_kafka import KafkaError as Code

    return (Code._TRANSPORT, Code._ALL_BROKERS_DOWN, Code._TIMED_OUT, Code._MSG_TIMED_OUT)


def _confluent_auth_codes() -> tuple[int, ...]:
    """librdkafka's error codes for a broker that does not let the client in."""
    from confluent_kafka import KafkaError as Code

    return (Code._AUTHENTICATION, Code.SASL_AUTHENTICATION_FAILED)


#: Per SparkContext (its classpath is fixed when it starts): is Spark's connector on it?
_NATIVE: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def native_connector(spark: SparkSession) -> bool:
    """Is Spark's own Kafka connector (spark-sql-kafka-0-10) on the classpath?

    Asked once per SparkContext: the answer is asked for every batch, and a class that is not
    there costs a Java exception each time.
    """
    context = spark.sparkContext
    if context not in _NATIVE:
        try:
            context._jvm.java.lang.Class.forName(NATIVE_PROVIDER)  # type: ignore[union-attr]
            _NATIVE[context] = True
        except Exception:
            _NATIVE[context] = False
    return _NATIVE[context]
