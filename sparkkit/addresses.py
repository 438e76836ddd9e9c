"""Address strings that name sources and sinks, the same in both streaming APIs.

``socket://HOST:PORT``, ``file:///DIR?format=text|json|csv``,
``kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC]?...``, ``generator://NAME?rate=N&keys=K&seed=S``
for sources; ``console://``, ``parquet:///DIR``, ``json:///DIR``, ``memory://NAME`` for sinks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from sparkkit.errors import AddressError
from sparkkit.redaction import is_secret, redact_text
from sparkkit.secrets import conceal

SOURCE_SCHEMES = ("socket", "file", "kafka", "generator")
SINK_SCHEMES = ("console", "parquet", "json", "memory", "kafka")
FILE_FORMATS = ("text", "json", "csv")
SOURCE_FORMS = (
    "socket://HOST:PORT, file:///DIR?format=text|json|csv, "
    "kafka://HOST:PORT/TOPIC or generator://NAME?rate=N&keys=K&seed=S"
)
SINK_FORMS = "console://, parquet:///DIR, json:///DIR, memory://NAME or kafka://HOST:PORT/TOPIC"


@dataclass(frozen=True)
class Address:
    """A parsed address: scheme, hosts, path (directory, topic or name) and query options.

    Built by :func:`parse_source` and :func:`parse_sink`, which conceal secret options
    (:mod:`sparkkit.secrets`): ``raw`` is the text as given with secrets masked, and ``params``
    hold references in their place, so an address can be printed, pickled or stored.
    """

    raw: str
    scheme: str
    hosts: tuple[tuple[str, int], ...] = ()
    path: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.hosts[0][0]

    @property
    def port(self) -> int:
        return self.hosts[0][1]

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)

    @property
    def netloc(self) -> str:
        """``HOST:PORT[,HOST:PORT]``: Kafka's bootstrap servers, for instance."""
        return ",".join(f"{h}:{p}" for h, p in self.hosts)

    @property
    def location(self) -> str:
        """``scheme://hosts/path`` without the options, which may hold credentials."""
        path = self.path if self.path.startswith("/") or not self.path else "/" + self.path
        return f"{self.scheme}://{self.netloc}{path}"

    @property
    def canonical(self) -> str:
        """The address with absolute paths and sorted options: equal for equal meaning.

        Secret options are left out: a rotated credential does not change what an address means.
        """
        query = "&".join(f"{k}={v}" for k, v in sorted(self.params.items()) if not is_secret(k))
        return self.location + (f"?{query}" if query else "")

    def __str__(self) -> str:
        return self.raw


def _split(
    text: str, option: str, schemes: tuple[str, ...], forms: str
) -> tuple[str, str, str, dict[str, str]]:
    if "://" not in text:
        raise AddressError(option, text, f"expected an address such as {forms}")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise AddressError(option, text, f"not a valid address ({exc}); accepted: {forms}") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise AddressError(option, text, f"unknown scheme {scheme!r}; accepted: {forms}")
    params: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in params:
            raise AddressError(option, text, f"option {key!r} is given twice")
        params[key] = value
    return scheme, unquote(parts.netloc), unquote(parts.path), params


def _concealed(address: Address) -> Address:
    """``address`` with its secrets concealed and masked in ``raw``."""
    params = conceal(address.location, address.params)
    return replace(address, raw=redact_text(address.raw), params=params)


def _hosts(text: str, netloc: str, option: str, example: str) -> tuple[tuple[str, int], ...]:
    hosts = []
    for item in netloc.split(","):
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise AddressError(option, text, f"expected HOST:PORT with a port 1-65535, as in {example}")
        hosts.append((host.strip("[]"), int(port)))
    return tuple(hosts)


def _directory(text: str, netloc: str, path: str, option: str, example: str) -> str:
    if netloc not in ("", "localhost"):
        path = netloc + path  # file://relative/dir
    if not path:
        raise AddressError(option, text, f"expected a directory, as in {example}")
    return os.path.abspath(path)


T = TypeVar("T")


def implementation(registry: dict[str, type[T]], address: Address, option: str, kind: str) -> type[T]:
    """The class registered for the address's scheme; AddressError for a scheme not available yet."""
    try:
        return registry[address.scheme]
    except KeyError:
        raise AddressError(
            option,
            address.raw,
            f"{address.scheme}:// {kind} are not available in this version; "
            f"accepted: {', '.join(s + '://' for s in registry)}",
        ) from None


def parse_source(text: str, option: str = "--source") -> Address:
    """Parse a source address; raise :class:`AddressError` naming ``option`` when it is wrong."""
    return _concealed(_parse_source(text, option))


def parse_sink(text: str, option: str = "--sink") -> Address:
    """Parse a sink address; raise :class:`AddressError` naming ``option`` when it is wrong."""
    return _concealed(_parse_sink(text, option))


def _parse_source(text: str, option: str) -> Address:
    scheme, netloc, path, params = _split(text, option, SOURCE_SCHEMES, SOURCE_FORMS)
    if scheme == "socket":
        if path not in ("", "/"):
            raise AddressError(option, text, "a socket address has no path: socket://HOST:PORT")
        return Address(text, scheme, _hosts(text, netloc, option, "socket://localhost:9999"), "", params)
    if scheme == "file":
        directory = _directory(text, netloc, path, option, "file:///data/in?format=text")
        fmt = params.setdefault("format", "text")
        if fmt not in FILE_FORMATS:
            raise AddressError(option, text, f"format must be one of {', '.join(FILE_FORMATS)}")
        return Address(text, scheme, (), directory, params)
    if scheme == "kafka":
        topics = path.strip("/")
        if not topics:
            raise AddressError(option, text, "expected kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC]")
        return Address(
            text, scheme, _hosts(text, netloc, option, "kafka://localhost:9092/events"), topics, params
        )
    # generator
    if not netloc or path not in ("", "/"):
        raise AddressError(option, text, "expected generator://NAME?rate=N&keys=K&seed=S")
    return Address(text, scheme, (), netloc, params)


def _parse_sink(text: str, option: str) -> Address:
    scheme, netloc, path, params = _split(text, option, SINK_SCHEMES, SINK_FORMS)
    if scheme == "console":
        return Address(text, scheme, (), "", params)
    if scheme in ("parquet", "json"):
        directory = _directory(text, netloc, path, option, f"{scheme}:///data/out")
        return Address(text, scheme, (), directory, params)
    if scheme == "memory":
        if not netloc.isidentifier():
            raise AddressError(option, text, "expected memory://NAME with NAME a valid view name")
        return Address(text, scheme, (), netloc, params)
    topic = path.strip("/")
    if not topic or "," in topic:
        raise AddressError(option, text, "expected kafka://HOST:PORT[,HOST:PORT]/TOPIC (one topic)")
    return Address(text, scheme, _hosts(text, netloc, option, "kafka://localhost:9092/out"), topic, params)


def concealed_argument(argument: str) -> str:
    """A command-line argument with the secrets of an address in it replaced by references.

    ``--source=kafka://h:9092/t?kafka.sasl.password=p`` (or the address alone) becomes
    ``...?kafka.sasl.password=sparkkit-secret:SPARKKIT_SECRET_...``: a command line that a
    child process (``spark-submit``'s driver) can be given, and ``ps`` can show, safely.
    """
    flag, sep, value = argument.partition("=") if argument.startswith("--") else ("", "", argument)
    if "://" not in value or "?" not in value:
        return argument
    query = urlsplit(value).query
    if not any(is_secret(name) for name, _ in parse_qsl(query, keep_blank_values=True)):
        return argument
    for parse in (parse_source, parse_sink):
        try:
            address = parse(value)
        except AddressError:
            continue
        return f"{flag}{sep}{address.location}?{urlencode(address.params, safe=':')}"
    return argument
