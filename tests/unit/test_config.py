"""Configuration: precedence of the layers and every validation error (exit 2, option named)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sparkkit.cli import main
from sparkkit.config import COMMON_OPTIONS, load_config
from sparkkit.duration import Duration
from sparkkit.errors import ConfigError, UnknownOptionError

WINDOWED = (*COMMON_OPTIONS, "window", "slide")


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "wordcount.toml").write_text(
        'batch_interval = "3s"\nsink = "json:///from-file"\n'
        'source = ["generator://a?rate=1"]\napi = "dstream"\n'
    )
    return tmp_path


def test_defaults_without_any_layer(tmp_path: Path) -> None:
    config = load_config("wordcount", env={}, conf_dir=tmp_path)
    assert config.api == "structured"
    assert config.batch_interval == Duration(1000)
    assert config.sink.scheme == "console"
    assert config.source == ()
    assert config.effective_checkpoint_interval == Duration(5000)


def test_file_beats_defaults(conf_dir: Path) -> None:
    config = load_config("wordcount", env={}, conf_dir=conf_dir)
    assert (config.batch_interval, config.sink.path, config.api) == (Duration(3000), "/from-file", "dstream")
    assert config.origins["batch_interval"].endswith("wordcount.toml")


def test_environment_beats_file(conf_dir: Path) -> None:
    env = {"SPARKKIT_BATCH_INTERVAL": "4s", "SPARKKIT_SOURCE": "generator://x generator://y", "PATH": "/bin"}
    config = load_config("wordcount", env=env, conf_dir=conf_dir)
    assert config.batch_interval == Duration(4000)
    assert [a.path for a in config.source] == ["x", "y"]
    assert config.sink.path == "/from-file"
    assert config.origins["batch_interval"] == "SPARKKIT_BATCH_INTERVAL"


def test_cli_beats_environment(conf_dir: Path) -> None:
    env = {"SPARKKIT_BATCH_INTERVAL": "4s", "SPARKKIT_API": "structured"}
    config = load_config(
        "wordcount", cli={"batch_interval": "500ms", "api": None}, env=env, conf_dir=conf_dir
    )
    assert config.batch_interval == Duration(500)
    assert config.api == "structured"  # an unset flag leaves the environment's value


def test_conf_dir_variable_is_not_an_option(tmp_path: Path) -> None:
    config = load_config("wordcount", env={"SPARKKIT_CONF_DIR": str(tmp_path)}, conf_dir=tmp_path)
    assert config.job == "wordcount"


@pytest.mark.parametrize(
    ("cli", "option", "fragment"),
    [
        ({"api": "spark"}, "--api", "dstream or structured"),
        ({"batch_interval": "0s"}, "--batch-interval", "duration > 0"),
        ({"batch_interval": "fast"}, "--batch-interval", "500ms, 10s, 2m"),
        ({"duration": "-1s"}, "--duration", "duration such as"),
        ({"source": ["tcp://x:1"]}, "--source", "unknown scheme"),
        ({"sink": "csv:///x"}, "--sink", "unknown scheme"),
        ({"checkpoint_interval": "10s"}, "--checkpoint-interval", "needs --checkpoint"),
        ({"slide": "2s"}, "--slide", "needs a --window"),
        ({"window": "2s", "slide": "4s"}, "--window", "at least the slide (4s)"),
        (
            {"api": "dstream", "batch_interval": "2s", "window": "7s"},
            "--window",
            "multiple of --batch-interval 2s",
        ),
        (
            {"api": "dstream", "batch_interval": "2s", "window": "8s", "slide": "3s"},
            "--slide",
            "e.g. 2s or 4s",
        ),
        (
            {"api": "dstream", "batch_interval": "2s", "checkpoint": "/tmp/x", "checkpoint_interval": "5s"},
            "--checkpoint-interval",
            "multiple",
        ),
    ],
)
def test_validation_errors_name_option_value_and_accepted(
    tmp_path: Path, cli: dict[str, object], option: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("wordcount", WINDOWED, cli=cli, env={}, conf_dir=tmp_path)
    assert info.value.option == option
    assert fragment in str(info.value)
    assert info.value.exit_code == 2


def test_structured_windows_need_not_be_multiples(tmp_path: Path) -> None:
    config = load_config("wordcount", WINDOWED, cli={"window": "7s"}, env={}, conf_dir=tmp_path)
    assert config.effective_slide == Duration(7000)


def test_unknown_options_suggest_the_closest(tmp_path: Path, conf_dir: Path) -> None:
    with pytest.raises(UnknownOptionError, match="did you mean SPARKKIT_BATCH_INTERVAL"):
        load_config("wordcount", env={"SPARKKIT_BATCH_INTERVALL": "1s"}, conf_dir=tmp_path)
    (conf_dir / "jobs" / "wordcount.toml").write_text('sinc = "console://"\n')
    with pytest.raises(UnknownOptionError, match="did you mean sink"):
        load_config("wordcount", env={}, conf_dir=conf_dir)
    with pytest.raises(UnknownOptionError, match="--window is not an option of wordcount"):
        load_config("wordcount", cli={"window": "2s"}, env={}, conf_dir=tmp_path / "empty")


def test_broken_toml_is_a_config_error(conf_dir: Path) -> None:
    (conf_dir / "jobs" / "wordcount.toml").write_text("api = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config("wordcount", env={}, conf_dir=conf_dir)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "wordcount", "--batch-interval", "soon"], "--batch-interval=soon (from command line)"),
        (["run", "wordcount", "--windw", "3s"], "unknown option --windw"),
        (["run", "wordcount", "--sinc", "console://"], "did you mean --sink?"),
        (["run", "wordcount", "--source", "generator://a?rate=0"], "rate must be"),
        (["run", "wordcount", "--source", "kafka://127.0.0.1:1/t"], "no Kafka broker answers at 127.0.0.1:1"),
        (
            ["run", "wordcount", "--source", "generator://a", "--sink", "kafka://127.0.0.1:1/o"],
            "no Kafka broker",
        ),
        (
            ["run", "wordcount", "--source", "kafka://127.0.0.1:1/t?client=java"],
            "client= must be auto, confluent",
        ),
        (
            ["run", "wordcount", "--source", "generator://a", "--sink", "kafka://127.0.0.1:1/o?key=user"],
            "key must be an output column: batch_time, word, count",
        ),
        (
            ["submit", "wordcount", "--master", "spark://h:7077", "--source", "kafka://127.0.0.1:1/t"],
            "no Kafka broker",
        ),
        (["cluster", "up", "--workers", "0"], "--workers=0"),
        (["run", "wordcont"], "did you mean wordcount?"),
        (["run", "wordcount", "--source", "file:///nonexistent-dir?format=json"], "needs ?schema=DDL"),
        (["checkpoint", "inspect", "/nonexistent/wordcount/main"], "has no sparkkit manifest"),
        (["checkpoint", "reset", "--force", "."], "refusing to delete"),
        (["run", "wordcount", "--master", "lokal[2]"], "--master=lokal[2]"),
        (["run", "wordcount", "--sink", "console://?rows=x"], "rows must be a whole number"),
        (["run", "wordcount", "--sink", "memory://t?kep=2"], "unknown option 'kep'"),
        (["run", "wordcount", "--source", "file:///etc/hostname"], "is not a directory"),
        (["run", "wordcount", "--source", "file:///tmp/x?maxFilesPerTrigger=%C2%B2"], "maxFilesPerTrigger"),
        (["run", "wordcount", "--api", "dstream", "--batch-interval", "2010ms"], "PySpark would round"),
    ],
)
def test_cli_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.startswith("sparkkit: error: ")
    assert "Traceback" not in err


def test_bad_configuration_fails_fast_in_a_real_process_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparkkit.cli",
            "run",
            "wordcount",
            "--api",
            "dstream",
            "--batch-interval",
            "2s",
            "--checkpoint",
            str(tmp_path),
            "--checkpoint-interval",
            "3s",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "SPARKKIT_CONF_DIR": str(tmp_path)},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "sparkkit: error: --checkpoint-interval=3s (from command line): "
        "must be a multiple of --batch-interval 2s for --api dstream, e.g. 2s or 4s"
    ]
