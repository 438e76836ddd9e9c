"""Property tests: every bad configuration is a ConfigError (exit 2) in one line naming its option.

Whatever the input — an address, a duration, a job option from a flag, an environment variable
or a conf TOML file, a pipeline file — loading either succeeds or raises a :class:`ConfigError`
whose one-line message names the option and says what is accepted; never another exception,
never a hang. No Spark starts here. ``SPARKKIT_HYPOTHESIS=thorough`` runs many more examples.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import string
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from sparkkit.addresses import parse_sink, parse_source
from sparkkit.cli import parse_job_options, run_streams_main
from sparkkit.config import OPTIONS, JobConfig, load_config, spelt
from sparkkit.duration import Duration
from sparkkit.errors import ConfigError, UnknownOptionError
from sparkkit.jobs import JOBS
from sparkkit.pipeline import Pipeline, load_pipeline
from sparkkit.runner import prepare

_COMMON = {
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile(
    "sparkkit", max_examples=60, deadline=timedelta(seconds=2), derandomize=True, **_COMMON
)
settings.register_profile("thorough", max_examples=1500, deadline=timedelta(seconds=2), **_COMMON)
PROPERTY = settings.get_profile(os.environ.get("SPARKKIT_HYPOTHESIS", "sparkkit"))
HANG_S = 10


@contextlib.contextmanager
def no_hang(seconds: int = HANG_S) -> Iterator[None]:
    """Fail (instead of hanging) when the block runs longer than ``seconds``."""

    def stop(signum: int, frame: Any) -> None:
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_error(exc: ConfigError, option: str | None = None) -> None:
    """A configuration error as the CLI prints it: exit 2, one line, the option and what is accepted."""
    message = str(exc)
    assert exc.exit_code == 2
    assert len(message.splitlines()) == 1, message
    assert exc.option and exc.option in message, message
    accepted = exc.accepted.split("; ", 1)[1] if isinstance(exc, UnknownOptionError) else exc.accepted
    assert accepted and accepted in message, message
    if option is not None:
        assert exc.option == option, message


def outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call``'s result, or the well-formed ConfigError it raised; any other exception fails."""
    try:
        with no_hang():
            return call(*args, **kwargs)
    except ConfigError as exc:
        check_error(exc)
        return exc


def rejected(call: Callable[..., Any], *args: Any, option: str | None = None, **kwargs: Any) -> ConfigError:
    """The ConfigError ``call`` must raise, naming ``option``."""
    result = outcome(call, *args, **kwargs)
    assert isinstance(result, ConfigError), f"accepted: {result!r}"
    check_error(result, option)
    return result


# ---------------------------------------------------------------------------------------------
# TOML written by hand (no TOML writer among the dependencies)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):  # TOML basic strings take JSON's escapes, but no raw DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(data: dict[str, Any]) -> str:
    return "".join(f"{toml_value(str(key))} = {toml_value(value)}\n" for key, value in data.items())


texts = st.text(max_size=30)
toml_scalars = st.one_of(
    texts,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.dates(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)


# ---------------------------------------------------------------------------------------------
# Durations

UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
duration_like = st.from_regex(r"\s?-?\d{0,14}(\.\d{0,10})?\s?(ms|s|m|h|us|d|sec|M|H)?\s?", fullmatch=True)


@PROPERTY
@given(st.one_of(texts, duration_like, st.integers(), st.floats(), st.booleans()))
@example("999999999999h")
@example("\u0661\u0660s")
@example(float("nan"))
@example("10s\n")
@example(True)
def test_a_duration_parses_exactly_or_is_refused(text: Any) -> None:
    try:
        duration = Duration.parse(text)
    except ValueError:
        return
    assert 0 <= duration.ms <= 10**12
    assert Duration.parse(str(duration)) == duration  # what sparkkit prints, it reads back


@PROPERTY
@given(st.integers(0, 10**5), st.sampled_from(sorted(UNITS)), st.sampled_from(["", " "]))
def test_valid_durations_parse(amount: int, unit: str, space: str) -> None:
    assert Duration.parse(f"{amount}{space}{unit}").ms == amount * UNITS[unit]


@PROPERTY
@given(st.sampled_from(["batch_interval", "window", "watermark", "gap", "duration"]), duration_like)
def test_a_duration_option_is_a_duration_or_a_config_error(name: str, text: str) -> None:
    job = next(j for j in JOBS.values() if name in j.options)
    result = outcome(load_config, job.name, job.options, {name: text}, {}, Path("/nonexistent"))
    if isinstance(result, ConfigError):
        assert result.option.startswith("--")
    else:
        assert getattr(result, name) == Duration.parse(text)


# ---------------------------------------------------------------------------------------------
# Addresses (sparkkit/addresses.py)

SCHEMES = ["socket", "file", "kafka", "generator", "console", "json", "parquet", "memory", "http", "", "FILE"]
host_text = st.text(alphabet=string.ascii_letters + string.digits + ".:-_,[]@%", max_size=15)
query_text = st.text(alphabet=string.ascii_letters + string.digits + "=&%+_-", max_size=20)
address_like = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}{path}" + (f"?{query}" if query else ""),
    st.sampled_from(SCHEMES),
    host_text,
    st.sampled_from(["", "/", "/data/in", "/t1,t2", "//x"]),
    query_text,
)


@PROPERTY
@given(st.one_of(texts, address_like), st.sampled_from([parse_source, parse_sink]))
@example("socket://localhost:9999", parse_source)
@example("kafka://h:1,h:2/a,b", parse_source)
def test_an_address_parses_or_is_an_address_error(text: str, parse: Callable[..., Any]) -> None:
    result = outcome(parse, text, "--x")
    if isinstance(result, ConfigError):
        assert result.option == "--x"


@pytest.mark.parametrize("text", ["socket://[::1:9999", "kafka://h\u2100x:1/t", "memory://a]"])
def test_an_address_urllib_refuses_is_an_address_error(text: str) -> None:
    outcome(parse_source if text.startswith(("socket", "kafka")) else parse_sink, text)


def test_an_address_with_a_newline_is_refused_in_one_line() -> None:
    outcome(parse_source, "generator://\n")


# ---------------------------------------------------------------------------------------------
# Job options: flags, SPARKKIT_* variables, conf/jobs/<job>.toml

DURATIONS = st.sampled_from(["1s", "2s", "500ms", "10s", "1m", "4s", "1h", "2"])
FIELDS = st.from_regex(r"[a-z_][a-z0-9_]{0,5}(\.[a-z_][a-z0-9_]{0,5})?", fullmatch=True)
VALID: dict[str, st.SearchStrategy[Any]] = {
    "api": st.sampled_from(["dstream", "structured", " Structured "]),
    "master": st.sampled_from(["local", "local[*]", "local[2]", "local[2,3]", "spark://h:7077", "yarn"]),
    "app_name": st.text(min_size=1, max_size=10).filter(str.strip),
    "source": st.sampled_from(
        ["generator://w?rate=5", "generator://v?keys=3&seed=1", "socket://localhost:9"]
    ),
    "sink": st.sampled_from(["console://", "memory://out", "json:///tmp/sk-out", "parquet://rel/out"]),
    "batch_interval": DURATIONS,
    "checkpoint": st.sampled_from(["ck", "ck/deeper"]),
    "checkpoint_interval": DURATIONS,
    "dead_letters": st.sampled_from(["dl", "json:///tmp/dl", "memory://dead"]),
    "duration": st.sampled_from(["0", "10s", "1m"]),
    "window": DURATIONS,
    "slide": DURATIONS,
    "incremental": st.sampled_from(["true", "false", "yes", "0", "On"]),
    "watermark": DURATIONS,
    "output_mode": st.sampled_from(["update", "append"]),
    "key": FIELDS,
    "event_time": FIELDS,
    "state_store": st.sampled_from(["rocksdb", "hdfs"]),
    "state_timeout": DURATIONS,
    "sessionizer": st.sampled_from(["session_window", "timers"]),
    "gap": DURATIONS,
}
#: Values each option refuses whatever else is set.
A_FILE = str(Path(__file__).resolve())
letters = st.from_regex(r"[a-z]{1,8}", fullmatch=True)
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "api": letters.filter(lambda t: t not in ("dstream", "structured")),
    "master": st.sampled_from(["lokal[2]", "local[x]", "spark:/h", "local [2]", "yarn2"]),
    "app_name": st.sampled_from(["", "  ", "\n"]),
    "source": st.sampled_from(["nope", "ftp://x", "socket://h", "file://", "generator://", "kafka://h:1"]),
    "sink": st.sampled_from(["nope", "memory://1x", "kafka://h:1/a,b", "socket://h:1"]),
    "checkpoint": st.sampled_from(["", A_FILE, f"{A_FILE}/x"]),
    "dead_letters": st.sampled_from(["", f"{A_FILE}/x"]),
    "incremental": letters.filter(lambda t: t not in ("true", "false", "yes", "no", "on", "off")),
    "output_mode": letters.filter(lambda t: t not in ("update", "append")),
    "key": st.sampled_from(["a b", "1x", "a-b", "a..b", "", "a\nb"]),
    "event_time": st.sampled_from(["a b", "1x", ".a"]),
    "state_store": letters.filter(lambda t: t not in ("rocksdb", "hdfs")),
    "sessionizer": letters,
    **{
        name: st.one_of(letters, st.sampled_from(["0", "0s", "-1s", "1.0001ms", "1e3s"]))
        for name in ("batch_interval", "window", "slide", "gap", "state_timeout", "checkpoint_interval")
    },
    "watermark": letters,
    "duration": st.one_of(letters, st.just("-5s")),
}


def job_options(job: str) -> st.SearchStrategy[str]:
    return st.sampled_from(JOBS[job].options)


def as_layer(
    layer: str, job: str, name: str, value: Any, conf_dir: Path
) -> tuple[dict[str, Any], dict[str, str]]:
    """(cli, env) giving option ``name`` its ``value`` through ``layer``, or the job's TOML file."""
    many = OPTIONS[name].many
    if layer == "cli":
        return {name: [value] if many else value}, {}
    if layer == "env":
        return {}, {OPTIONS[name].env: str(value)}
    (conf_dir / "jobs").mkdir(exist_ok=True)
    (conf_dir / "jobs" / f"{job}.toml").write_text(toml_document({name: [value] if many else value}))
    return {}, {}


def load(job: str, cli: dict[str, Any], env: dict[str, str], conf_dir: Path) -> Any:
    """``load_config`` of ``job`` (its options; conf_dir/jobs/JOB.toml), or its ConfigError."""
    return outcome(load_config, job, JOBS[job].options, cli, env, conf_dir)


@pytest.fixture
def conf_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty conf directory; the working directory is a fresh one (relative paths land there)."""
    root = tmp_path_factory.mktemp("conf")
    monkeypatch.chdir(root)
    return root


def fresh(conf_dir: Path) -> Path:
    """A new conf directory inside ``conf_dir`` for one example."""
    for n in range(10**6):
        path = conf_dir / f"example-{n}"
        with contextlib.suppress(FileExistsError):
            path.mkdir()
            return path
    raise AssertionError("unreachable")


@PROPERTY
@given(st.data(), st.sampled_from(list(JOBS)), st.sampled_from(["cli", "env", "toml"]))
def test_a_valid_value_of_any_option_from_any_layer_is_taken(
    conf_dir: Path, data: st.DataObject, job: str, layer: str
) -> None:
    name = data.draw(job_options(job).filter(lambda n: n not in ("slide", "checkpoint_interval")))
    value = data.draw(VALID[name])
    here = fresh(conf_dir)
    cli, env = as_layer(layer, job, name, value, here)
    config = load(job, cli, env, here)
    assert isinstance(config, JobConfig), config
    origin = {"cli": "command line", "env": OPTIONS[name].env}.get(layer, str(here / "jobs" / f"{job}.toml"))
    assert config.origins[name] == origin


@PROPERTY
@given(st.data(), st.sampled_from(list(JOBS)), st.sampled_from(["cli", "env", "toml"]))
def test_an_invalid_value_of_any_option_from_any_layer_names_the_option(
    conf_dir: Path, data: st.DataObject, job: str, layer: str
) -> None:
    name = data.draw(job_options(job).filter(lambda n: n in INVALID))
    value = data.draw(INVALID[name])
    here = fresh(conf_dir)
    cli, env = as_layer(layer, job, name, value, here)
    error = load(job, cli, env, here)
    assert isinstance(error, ConfigError), f"{name}={value!r} accepted"
    check_error(error, OPTIONS[name].flag)


@PROPERTY
@given(
    st.sampled_from(list(JOBS)),
    st.dictionaries(
        st.one_of(
            st.sampled_from([spec.env for spec in OPTIONS.values()] + ["SPARKKIT_CONF_DIR", "PATH"]),
            texts.map(lambda t: "SPARKKIT_" + t),
        ),
        st.one_of(texts, st.sampled_from(["2s", "local[2]", "true", "generator://g x", "memory://m"])),
        max_size=4,
    ),
)
def test_any_environment_loads_or_names_a_variable(conf_dir: Path, job: str, env: dict[str, str]) -> None:
    env.pop("SPARKKIT_CONF_DIR", None)
    result = load(job, {}, env, conf_dir)
    if isinstance(result, UnknownOptionError):
        assert any(spelt(var) == result.option for var in env)


@PROPERTY
@given(
    st.sampled_from(list(JOBS)),
    st.dictionaries(
        st.one_of(st.sampled_from(sorted(OPTIONS)), st.sampled_from(["batch-interval", "sinc"]), texts),
        st.one_of(toml_values, st.sampled_from(["2s", "generator://g", ["generator://g"], ["://"], True])),
        max_size=4,
    ),
)
def test_any_conf_toml_file_loads_or_names_its_key(conf_dir: Path, job: str, table: dict[str, Any]) -> None:
    here = fresh(conf_dir)
    (here / "jobs").mkdir()
    (here / "jobs" / f"{job}.toml").write_text(toml_document(table), encoding="utf-8")
    result = load(job, {}, {}, here)
    if isinstance(result, ConfigError) and not isinstance(result, UnknownOptionError):
        assert result.origin.endswith(f"{job}.toml") or result.option.endswith(f"{job}.toml")


@PROPERTY
@given(st.one_of(st.binary(max_size=40), texts.map(str.encode)))
@example(b"\xff\xfe")
@example(b"api = \n")
@example(b"[source]\nx = 1")
def test_any_bytes_as_a_conf_toml_file_load_or_are_a_config_error(conf_dir: Path, raw: bytes) -> None:
    here = fresh(conf_dir)
    (here / "jobs").mkdir()
    (here / "jobs" / "wordcount.toml").write_bytes(raw)
    load("wordcount", {}, {}, here)


argv_tokens = st.one_of(
    st.sampled_from([spec.flag for spec in OPTIONS.values()] + ["--", "-x", "--window=", "x", "--nope"]),
    st.sampled_from(["2s", "generator://g", "dstream", "local[2]", "true", "ck"]),
    texts.filter(lambda t: not t.startswith("-h") and t != "--help"),  # those print the help and exit
)


@PROPERTY
@given(st.sampled_from(list(JOBS)), st.lists(argv_tokens, max_size=6))
@example("windowed_counts", ["--window"])
@example("wordcount", ["--window", "2s"])
def test_any_command_line_of_a_job_loads_or_is_a_config_error(
    conf_dir: Path, job: str, argv: list[str]
) -> None:
    result = outcome(parse_job_options, job, argv)
    if isinstance(result, JobConfig) and not any(a.scheme == "kafka" for a in (*result.source, result.sink)):
        outcome(prepare, result)  # the job's own checks: still no Spark


@PROPERTY
@given(
    st.sampled_from(list(JOBS)),
    st.fixed_dictionaries({}, optional={name: VALID[name] for name in VALID}),
)
def test_any_valid_looking_combination_prepares_or_names_an_option(
    conf_dir: Path, job: str, values: dict[str, Any]
) -> None:
    """Cross-option rules and each job's own checks (prepare: still no Spark) name an option too."""
    values = {k: v for k, v in values.items() if k in JOBS[job].options}
    values["source"] = [values.get("source", "generator://g?rate=5")]
    config = load(job, values, {}, conf_dir)
    if isinstance(config, JobConfig):
        prepared = outcome(prepare, config)
        if isinstance(prepared, ConfigError):
            assert prepared.option.startswith("--")


# ---------------------------------------------------------------------------------------------
# Pipeline files (sparkkit run streams --pipeline FILE)

NAMES = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True).filter(lambda n: n not in ("select", "from"))


@st.composite
def valid_pipelines(draw: st.DrawFn) -> dict[str, Any]:
    """A pipeline file's tables: no Kafka (its check asks the broker), names without ``_``."""
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    split = draw(st.integers(1, len(names)))
    stream_names, query_names = names[:split], [n for n in names[split:] if n != "archive"]
    streams: dict[str, Any] = {}
    for name in stream_names:
        kind = draw(st.sampled_from(["text", "json", "file", "files"]))
        stream: dict[str, Any] = {
            "text": {"source": f"generator://{name}?rate=5"},
            "json": {"source": f"generator://{name}?format=json", "event_time": "ts", "watermark": "10s"},
            "file": {"source": f"file:///tmp/sk-in/{name}"},
            "files": {
                "source": f"file:///tmp/sk-in/{name}?format=json",
                "schema": "user STRING, ts TIMESTAMP",
            },
        }[kind]
        stream.update(draw(st.fixed_dictionaries({}, optional={
            "archive": st.booleans(), "working": st.sampled_from(["5m", "100 rows", 30]),
            "sample": st.integers(1, 1000),
        })))  # fmt: skip
        streams[name] = stream
    queries = {}
    for name in query_names:
        read = draw(st.sampled_from(stream_names))
        query: dict[str, Any] = {"sql": f"SELECT * FROM {read}"}
        query.update(draw(st.fixed_dictionaries({}, optional={
            "mode": st.sampled_from(["append", "update", "complete"]), "batch_interval": DURATIONS,
            "output": st.sampled_from([f"memory://{name}", "console://", f"json:///tmp/sk-out/{name}"]),
        })))  # fmt: skip
        queries[name] = query
    head = draw(st.fixed_dictionaries({}, optional={"name": NAMES, "batch_interval": DURATIONS}))
    return {"pipeline": head, "streams": streams, "queries": queries}


def write_pipeline(directory: Path, data: dict[str, Any] | str | bytes) -> Path:
    path = fresh(directory) / "pipe.toml"
    if isinstance(data, dict):
        data = toml_document(data)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@PROPERTY
@given(valid_pipelines())
def test_a_valid_pipeline_loads(conf_dir: Path, data: dict[str, Any]) -> None:
    pipeline = outcome(load_pipeline, write_pipeline(conf_dir, data))
    assert isinstance(pipeline, Pipeline), pipeline
    assert list(pipeline.streams) == list(data["streams"])
    assert list(pipeline.queries) == list(data["queries"])
    assert pipeline.name == data["pipeline"].get("name", "pipe")


def bad(value: Any) -> st.SearchStrategy[Any]:
    return st.just(value)


#: (table kind, key, wrong values): the value makes that key of a valid table wrong.
MUTATIONS: list[tuple[str, str, st.SearchStrategy[Any]]] = [
    ("pipeline", "batch_interval", st.sampled_from(["soon", "0s", True, [1], "-1s", "1.0001ms"])),
    ("pipeline", "name", st.sampled_from(["", "a-b", "1a", "a b", 5, "a\n"])),
    ("streams", "source", st.sampled_from(["", "nope", "kafka://h/t", "socket://[::1:9", 3, "generator://"])),
    ("streams", "archive", st.sampled_from(["yes", 1, "true", [True]])),
    ("streams", "watermark", st.sampled_from(["soon", -1, "1x"])),
    ("streams", "working", st.sampled_from(["0 rows", "soon", True, 0, "-5 rows", "0s", [1]])),
    ("streams", "sample", st.sampled_from([0, -1, True, "5", 10**7, 1.5])),
    ("streams", "event_time", st.sampled_from(["nope", 5, "", "ts "])),
    ("queries", "sql", st.sampled_from(["SELECT 1", "", 5, ["SELECT"], "SELECT * FROM nowhere"])),
    ("queries", "mode", st.sampled_from(["APPEND", "replace", "", 1, "append\n"])),
    ("queries", "output", st.sampled_from(["nope", "memory://1x", "memory://", "kafka://[::1:1/t", 7])),
    ("queries", "batch_interval", st.sampled_from(["0s", "soon", False])),
    ("queries", "approx", st.sampled_from(["yes", 1, "true"])),
    ("queries", "lg_config_k", st.sampled_from([12, 30])),
]


@PROPERTY
@given(valid_pipelines(), st.data())
def test_one_wrong_value_in_a_valid_pipeline_names_its_key(
    conf_dir: Path, data: dict[str, Any], draw: st.DataObject
) -> None:
    kind, key, values = draw.draw(st.sampled_from([m for m in MUTATIONS if data[m[0]]]))
    value = draw.draw(values)
    if kind == "pipeline":
        table, option = data["pipeline"], f"[pipeline] {key}"
    else:
        name = draw.draw(st.sampled_from(sorted(data[kind])))
        table, option = data[kind][name], f"[{kind}.{name}] {key}"
        if key == "event_time":  # a watermark needs an event time: take both away, then set it
            table.pop("watermark", None)
    table[key] = value
    check_error(rejected(load_pipeline, write_pipeline(conf_dir, data)), option)


#: (where, what): a table or key added to a valid pipeline, and the option the error names.
ADDITIONS = [
    ("top", "source"),
    ("top", "stream"),
    ("pipeline", "batch_intervals"),
    ("streams", "watermark_delay"),
    ("streams", "Source"),
    ("queries", "query"),
]


@PROPERTY
@given(valid_pipelines(), st.sampled_from(ADDITIONS), st.data())
def test_an_unknown_key_or_table_is_named(
    conf_dir: Path, data: dict[str, Any], addition: tuple[str, str], draw: st.DataObject
) -> None:
    where, key = addition
    assume(where in ("top", "pipeline") or data[where])
    if where == "top":
        data[key], option = {"x": 1}, f"[{key}]"
    elif where == "pipeline":
        data["pipeline"][key], option = 1, f"[pipeline] {key}"
    else:
        name = draw.draw(st.sampled_from(sorted(data[where])))
        data[where][name][key], option = "1", f"[{where}.{name}] {key}"
    check_error(rejected(load_pipeline, write_pipeline(conf_dir, data)), option)


@PROPERTY
@given(
    valid_pipelines(),
    st.sampled_from(["streams", "queries"]),
    st.one_of(st.sampled_from(["a-b", "1a", "a b", "a.b", "", "é", "a\n", "select*"]), texts),
)
def test_a_table_name_that_is_no_sql_name_is_refused(
    conf_dir: Path, data: dict[str, Any], kind: str, name: str
) -> None:
    assume(not name.isidentifier() or not name.isascii())
    assume(data[kind])
    old = sorted(data[kind])[0]
    data[kind] = {name if n == old else n: table for n, table in data[kind].items()}
    check_error(rejected(load_pipeline, write_pipeline(conf_dir, data)), f"[{kind}.{spelt(name)}]")


@PROPERTY
@given(valid_pipelines(), st.data())
def test_two_tables_with_one_sql_name_in_any_case_are_refused(
    conf_dir: Path, data: dict[str, Any], draw: st.DataObject
) -> None:
    stream = draw.draw(st.sampled_from(sorted(data["streams"])))
    kind = draw.draw(st.sampled_from(["streams", "queries"]))
    twin = stream.upper() if stream.upper() != stream else stream.capitalize() + "X"
    assume(twin.lower() == stream.lower())
    if kind == "streams":
        data["streams"][twin] = {"source": "generator://twin"}
    else:
        data["queries"][twin] = {"sql": f"SELECT * FROM {stream}"}
    check_error(rejected(load_pipeline, write_pipeline(conf_dir, data)), f"[{kind}.{twin}]")


@PROPERTY
@given(
    st.sampled_from(
        ["user STRNG", "user", "user STRING,", "a INT, A STRING", "a ARRAY<INT", "a-b INT", "x JSON"]
    ),
)
def test_a_schema_spark_would_refuse_is_refused_before_spark(conf_dir: Path, schema: str) -> None:
    data = {"streams": {"s": {"source": "file:///tmp/sk-in/s?format=json", "schema": schema}}}
    check_error(rejected(load_pipeline, write_pipeline(conf_dir, data)), "[streams.s] schema")


@PROPERTY
@given(
    st.sampled_from(
        ["a DECIMAL(10,2), b ARRAY<STRING>", "`a b` INT, m MAP<STRING, BIGINT>", "a:INT",
         "s STRUCT<x: INT, y: STRING>", "t TIMESTAMP_NTZ NOT NULL, v VARIANT", "i INTERVAL DAY TO SECOND",
         "c VARCHAR(5) COMMENT 'a, b>'"]
    ),
)  # fmt: skip
def test_a_schema_spark_reads_is_accepted(conf_dir: Path, schema: str) -> None:
    data = {"streams": {"s": {"source": "file:///tmp/sk-in/s?format=json", "schema": schema}}}
    assert isinstance(outcome(load_pipeline, write_pipeline(conf_dir, data)), Pipeline)


pipeline_keys = st.sampled_from(
    ["pipeline", "streams", "queries", "name", "batch_interval", "source", "schema", "event_time",
     "watermark", "archive", "working", "sample", "sql", "output", "mode", "approx", "lg_config_k"]
)  # fmt: skip


@PROPERTY
@given(
    st.recursive(
        st.one_of(toml_scalars, st.sampled_from(["generator://g", "SELECT * FROM g", "5m", "1 rows"])),
        lambda inner: st.dictionaries(st.one_of(pipeline_keys, NAMES, texts), inner, max_size=4),
        max_leaves=12,
    ).filter(lambda v: isinstance(v, dict))
)
def test_any_pipeline_table_loads_or_names_its_key(conf_dir: Path, data: dict[str, Any]) -> None:
    outcome(load_pipeline, write_pipeline(conf_dir, data))


@PROPERTY
@given(st.one_of(st.binary(max_size=60), texts))
@example(b"\xff")
@example("[streams.a]\nsource=")
@example("streams = 5")
@example("[streams]\n[queries]")
def test_any_bytes_as_a_pipeline_file_are_a_config_error(conf_dir: Path, raw: bytes | str) -> None:
    check_error(rejected(load_pipeline, write_pipeline(conf_dir, raw)))


def test_a_missing_or_unreadable_pipeline_file_is_a_config_error(tmp_path: Path) -> None:
    check_error(rejected(load_pipeline, tmp_path / "nope.toml"), "--pipeline")
    check_error(rejected(load_pipeline, tmp_path), "--pipeline")


def test_the_default_name_from_a_file_name_says_to_set_one(tmp_path: Path) -> None:
    path = tmp_path / "my-shop.toml"
    path.write_text('[streams.a]\nsource = "generator://a"\n')
    assert "set name in [pipeline]" in str(rejected(load_pipeline, path, option="[pipeline] name"))


# ---------------------------------------------------------------------------------------------
# `sparkkit run streams` options (the run itself replaced: nothing starts)


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["--duration", "--master", "--api", "--show", "--connect-port", "--pipline"]),
            st.sampled_from(["10s", "soon", "lokal", "local[2]", "dstream", "-1", "x", "70000", "3", "x\ny"]),
        ),
        max_size=6,
    )
)  # fmt: skip
def test_run_streams_options_run_or_are_a_config_error(
    monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    import sparkkit.processor

    ran: list[tuple[Any, ...]] = []
    monkeypatch.setattr(sparkkit.processor, "run_pipeline", lambda *args, **kwargs: ran.append(args))
    result = outcome(run_streams_main, argv)
    assert (result == 0 and len(ran) == 1) or isinstance(result, ConfigError)
