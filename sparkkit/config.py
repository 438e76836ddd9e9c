"""Typed job configuration: defaults < ``conf/jobs/<job>.toml`` < ``SPARKKIT_*`` environment < CLI.

Everything is parsed and validated here, before Spark starts, so a bad value fails in a
fraction of a second with one message naming the option, the value and what is accepted.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomllib

from sparkkit.addresses import Address, parse_sink, parse_source
from sparkkit.class_archive import MODE_ENV as CLASS_ARCHIVE_ENV
from sparkkit.duration import ACCEPTED as DURATION_ACCEPTED
from sparkkit.duration import Duration
from sparkkit.errors import ConfigError, UnknownOptionError
from sparkkit.secrets import PREFIX as SECRET_PREFIX

APIS = ("dstream", "structured")
ENV_PREFIX = "SPARKKIT_"
ONE_SECOND = Duration(1000)
ZERO = Duration(0)
POSITIVE_DURATION = "a duration > 0 such as 500ms, 10s, 2m or 1h"
#: Environment variables with the prefix that are not job options.
RESERVED_ENV = frozenset({"SPARKKIT_CONF_DIR", CLASS_ARCHIVE_ENV})
#: Variables that are not options: concealed secrets (:mod:`sparkkit.secrets`).
RESERVED_ENV_PREFIXES = (SECRET_PREFIX,)


@dataclass(frozen=True)
class OptionSpec:
    """One configuration option: its name, how a string becomes a value, and its help."""

    name: str
    parse: Callable[[Any], Any]
    help: str
    accepted: str
    many: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def one_line(value: Any) -> str:
    """``value`` as text on one printable line (quoted, with escapes, when it holds a newline or the like)."""
    text = str(value)
    return text if text.isprintable() else repr(text)


def spelt(name: Any) -> str:
    """A name as an error shows it: on one line, quoted when it is empty or blank."""
    text = one_line(name)
    return text if text.strip() else repr(str(name))


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(text)
        return text

    return parse


def _text(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("empty")
    return text


def _positive_duration(value: Any) -> Duration:
    duration = Duration.parse(value)
    if duration.ms <= 0:
        raise ValueError("must be positive")
    return duration


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ValueError(text)


def _field(value: Any) -> str:
    text = _text(value)
    if not all(part.isidentifier() for part in text.split(".")):
        raise ValueError(text)
    return text


def _path(value: Any) -> str:
    return os.path.abspath(_text(value))


def _directory(value: Any) -> str:
    """A directory that exists or can be made: no part of the path is a file."""
    path = Path(_path(value))
    for part in (path, *path.parents):
        if part.exists() or part.is_symlink():
            if not part.is_dir():
                raise ConfigError("", value, f"a directory path ({part} is not a directory)")
            break
    return str(path)


def _path_or_address(value: Any) -> str:
    """A directory, or a sink address (kept as written)."""
    text = _text(value)
    return text if "://" in text else _directory(text)


_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|(spark|k8s|mesos)://\S+|yarn)$")


def _master(value: Any) -> str:
    text = _text(value)
    if not _MASTER.fullmatch(text):
        raise ValueError(text)
    return text


OPTIONS: dict[str, OptionSpec] = {
    spec.name: spec
    for spec in (
        OptionSpec("api", _choice(*APIS), "streaming engine", "dstream or structured"),
        OptionSpec(
            "master",
            _master,
            "Spark master URL (default local[*])",
            "a master URL such as local[*] or spark://HOST:7077",
        ),
        OptionSpec("app_name", _text, "Spark application name", "a non-empty name"),
        OptionSpec(
            "source",
            parse_source,
            "input address; repeat for several streams",
            "an address such as generator://NAME?rate=N",
            many=True,
        ),
        OptionSpec(
            "sink", parse_sink, "output address", "console://, json:///DIR, parquet:///DIR or memory://NAME"
        ),
        OptionSpec("batch_interval", _positive_duration, "micro-batch interval", POSITIVE_DURATION),
        OptionSpec(
            "checkpoint",
            _directory,
            "checkpoint root directory (state lives in ROOT/JOB/QUERY)",
            "a directory path",
        ),
        OptionSpec(
            "dead_letters",
            _path_or_address,
            "where unreadable input records are kept: a directory (JSON lines) or any sink address "
            "(default ROOT/JOB/dead-letters or ./dead-letters/JOB)",
            "a directory path or a sink address",
        ),
        OptionSpec(
            "checkpoint_interval",
            _positive_duration,
            "DStream state checkpoint interval (default 5x batch interval)",
            POSITIVE_DURATION,
        ),
        OptionSpec(
            "duration",
            Duration.parse,
            "stop gracefully after this long (0 = run until Ctrl-C)",
            DURATION_ACCEPTED,
        ),
        OptionSpec("window", _positive_duration, "window length", POSITIVE_DURATION),
        OptionSpec(
            "incremental",
            _bool,
            "DStream windows: add the newest batch, subtract the oldest",
            "true or false",
        ),
        OptionSpec(
            "watermark", Duration.parse, "Structured: how late an event may arrive", DURATION_ACCEPTED
        ),
        OptionSpec("output_mode", _choice("update", "append"), "Structured output mode", "update or append"),
        OptionSpec(
            "key", _field, "JSON sources: the field to count by", "a field name such as user or user.id"
        ),
        OptionSpec("event_time", _field, "JSON sources, Structured: the event-time field", "a field name"),
        OptionSpec(
            "state_store", _choice("rocksdb", "hdfs"), "Structured state store provider", "rocksdb or hdfs"
        ),
        OptionSpec(
            "state_timeout", _positive_duration, "drop a key's state after this long idle", POSITIVE_DURATION
        ),
        OptionSpec(
            "sessionizer",
            _choice("session_window", "timers"),
            "Structured sessions: session_window, or transformWithStateInPandas with event-time timers",
            "session_window or timers",
        ),
        OptionSpec(
            "gap", _positive_duration, "sessions: inactivity that closes a session", POSITIVE_DURATION
        ),
        OptionSpec(
            "slide",
            _positive_duration,
            "window slide (default: the window, a tumbling window)",
            POSITIVE_DURATION,
        ),
    )
}

#: Options every job accepts.
COMMON_OPTIONS = (
    "api",
    "master",
    "app_name",
    "source",
    "sink",
    "batch_interval",
    "checkpoint",
    "checkpoint_interval",
    "dead_letters",
    "duration",
)


@dataclass(frozen=True)
class JobConfig:
    """A job's validated configuration. ``origins`` says where each value came from."""

    job: str
    api: str = "structured"
    master: str | None = None
    app_name: str | None = None
    source: tuple[Address, ...] = ()
    sink: Address = field(default_factory=lambda: parse_sink("console://"))
    batch_interval: Duration = ONE_SECOND
    checkpoint: str | None = None
    checkpoint_interval: Duration | None = None
    dead_letters: str | None = None
    duration: Duration = ZERO
    window: Duration | None = None
    slide: Duration | None = None
    incremental: bool = True
    watermark: Duration = ZERO
    output_mode: str = "append"
    key: str | None = None
    event_time: str | None = None
    state_store: str = "rocksdb"
    state_timeout: Duration | None = None
    gap: Duration | None = None
    sessionizer: str = "session_window"
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def effective_checkpoint_interval(self) -> Duration:
        return self.checkpoint_interval or self.batch_interval * 5

    @property
    def effective_slide(self) -> Duration | None:
        return self.slide or self.window

    def with_values(self, **values: Any) -> JobConfig:
        return replace(self, **values)

    def describe(self, name: str) -> str:
        """The value of option ``name`` as the user would write it."""
        value = getattr(self, name)
        if isinstance(value, tuple):
            return " ".join(self._show(v) for v in value)
        return "" if value is None else self._show(value)

    @staticmethod
    def _show(value: Any) -> str:
        return value.canonical if isinstance(value, Address) else str(value)


def find_conf_dir(env: Mapping[str, str] | None = None) -> Path:
    """``SPARKKIT_CONF_DIR``, else ``./conf`` when it holds sparkkit configuration, else the bundled one."""
    env = os.environ if env is None else env
    if env.get("SPARKKIT_CONF_DIR"):
        return Path(env["SPARKKIT_CONF_DIR"]).resolve()
    local = Path.cwd() / "conf"
    if (local / "spark-defaults.conf").is_file() or (local / "jobs").is_dir():
        return local.resolve()
    package = Path(__file__).resolve().parent
    bundled = package / "_conf"
    return bundled if bundled.is_dir() else package.parent / "conf"


def closest(name: str, candidates: Collection[str]) -> str | None:
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_option(
    raw: str, key: str, accepted: Collection[str], origin: str, style: Callable[[str], str], job: str = ""
) -> UnknownOptionError:
    """The error for option ``key`` (spelt ``raw``): the closest accepted name, or which job lacks it."""
    guess = closest(key, accepted)
    known = closest(key, OPTIONS)
    if known is not None and known not in accepted and guess is None:
        return UnknownOptionError(
            raw, None, origin, f"{style(known)} is not an option of {job or 'this job'}"
        )
    return UnknownOptionError(raw, style(guess) if guess else None, origin)


def _flag(name: str) -> str:
    return OPTIONS[name].flag


def _env_name(name: str) -> str:
    return OPTIONS[name].env


def _layers(
    job: str,
    accepted: Collection[str],
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    conf_dir: Path,
) -> dict[str, tuple[Any, str]]:
    """Raw values with their origin, later layers overriding earlier ones."""
    raw: dict[str, tuple[Any, str]] = {}
    toml_path = conf_dir / "jobs" / f"{job}.toml"
    if toml_path.is_file():
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(str(toml_path), "", f"a readable UTF-8 TOML file: {one_line(exc)}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(toml_path), "", f"not valid TOML: {one_line(exc)}") from None
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in accepted:
                raise unknown_option(spelt(key), name, accepted, str(toml_path), lambda n: n, job)
            raw[name] = (value, str(toml_path))
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX) or var in RESERVED_ENV or var.startswith(RESERVED_ENV_PREFIXES):
            continue
        name = var[len(ENV_PREFIX) :].lower()
        if name not in accepted:
            raise unknown_option(spelt(var), name, accepted, "environment", _env_name, job)
        raw[name] = (value.split() if OPTIONS[name].many else value, var)
    for name, value in cli.items():
        if value is None:
            continue
        if name not in accepted:
            raise unknown_option(
                _flag(name) if name in OPTIONS else spelt(name), name, accepted, "command line", _flag, job
            )
        raw[name] = (value, "command line")
    return raw


def load_config(
    job: str,
    accepted: Collection[str] = COMMON_OPTIONS,
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    conf_dir: Path | None = None,
) -> JobConfig:
    """Build a :class:`JobConfig` from every layer and validate it; raise :class:`ConfigError`."""
    env = os.environ if env is None else env
    conf_dir = find_conf_dir(env) if conf_dir is None else conf_dir
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name, (value, origin) in _layers(job, accepted, cli or {}, env, conf_dir).items():
        spec = OPTIONS[name]
        items = list(value) if spec.many and isinstance(value, (list, tuple)) else [value]
        if spec.many and not items:
            raise ConfigError(spec.flag, "", f"expected at least one: {spec.accepted}", origin)
        parsed = []
        for item in items:
            if not isinstance(item, (str, int, float)):  # a TOML table, array or date
                many = "; several as a list of strings" if spec.many else ""
                raise ConfigError(
                    spec.flag, one_line(item), f"expected {spec.accepted}, as a string{many}", origin
                )
            try:
                parsed.append(spec.parse(item))
            except ConfigError as exc:
                raise ConfigError(spec.flag, one_line(item), exc.accepted, origin) from None
            except (ValueError, TypeError):
                raise ConfigError(spec.flag, one_line(item), f"expected {spec.accepted}", origin) from None
        values[name] = tuple(parsed) if spec.many else parsed[0]
        origins[name] = origin
    config = JobConfig(job=job, origins=origins, **values)
    validate(config)
    return config


def validate(config: JobConfig) -> None:
    """Cross-option rules that hold for every job."""
    bi = config.batch_interval

    def fail(name: str, accepted: str) -> ConfigError:
        return ConfigError(
            _flag(name), one_line(config.describe(name)), accepted, config.origins.get(name, "")
        )

    if config.slide is not None and config.window is None:
        raise fail("slide", "a slide needs a --window")
    slide = config.effective_slide
    if config.window is not None and slide is not None and config.window < slide:
        raise fail("window", f"must be at least the slide ({config.effective_slide})")
    if config.api == "dstream":
        for name in ("batch_interval", "window", "slide", "checkpoint_interval"):
            value = getattr(config, name)
            if value is not None and not value.survives_pyspark:
                raise fail(
                    name,
                    f"PySpark would round {value.ms}ms to {int(value.ms / 1000 * 1000)}ms; "
                    "use a value such as 2s or 2500ms",
                )
        for name in ("window", "slide", "checkpoint_interval"):
            value = getattr(config, name)
            if value is not None and not value.is_multiple_of(bi):
                lower = Duration(value.ms // bi.ms * bi.ms)
                near = [str(d) for d in (lower, Duration(lower.ms + bi.ms)) if d.ms > 0]
                raise fail(
                    name,
                    f"must be a multiple of --batch-interval {bi} for --api dstream, "
                    f"e.g. {' or '.join(near)}",
                )
    if config.checkpoint_interval is not None and config.checkpoint is None:
        raise fail("checkpoint_interval", "needs --checkpoint DIR")
