"""Secrets: which option names are secret, how text is masked, conceal and reveal."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sparkkit.addresses import concealed_argument, parse_sink, parse_source
from sparkkit.checkpoint import Manifest, differences
from sparkkit.errors import AddressError, ConfigError, SecretMissingError
from sparkkit.redaction import MASK, is_secret, redact_options, redact_text, spark_redaction_conf
from sparkkit.secrets import PREFIX, REFERENCE, conceal, reveal, variable_name

SECRET_NAMES = [
    "kafka.sasl.jaas.config",
    "kafka.sasl.password",
    "kafka.ssl.key.password",
    "kafka.ssl.keystore.password",
    "kafka.ssl.truststore.password",
    "kafka.ssl.keystore.key",
    "kafka.ssl.key.pem",
    "kafka.sasl.oauthbearer.client.secret",
    "kafka.basic.auth.user.info",
    "spark.authenticate.secret",
    "token",
    "fs.s3a.access.key",
]
PLAIN_NAMES = [
    "kafka.security.protocol",
    "kafka.sasl.mechanism",
    "kafka.sasl.username",
    "kafka.ssl.ca.location",
    "kafka.ssl.keystore.type",
    "kafka.ssl.keystore.location",
    "kafka.ssl.truststore.type",
    "startingOffsets",
    "format",
    "schema",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_plain_names(name: str) -> None:
    assert not is_secret(name)


def test_spark_redaction_patterns_cover_the_same_names() -> None:
    # Spark reads these as Java regexes; Python's re agrees on this subset of the syntax
    conf = spark_redaction_conf()
    for name in SECRET_NAMES:
        assert re.search(conf["spark.redaction.regex"], name), name
        assert re.search(conf["spark.sql.redaction.options.regex"], name), name
    assert re.search(conf["spark.sql.redaction.string.regex"], "kafka.sasl.password=hunter22")
    assert "(?P<" not in conf["spark.sql.redaction.string.regex"]  # not Java syntax


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("kafka://h:1/t?kafka.sasl.password=hunter22&x=1", f"kafka://h:1/t?kafka.sasl.password={MASK}&x=1"),
        ("--conf=spark.ssl.keyPassword=a:b: bad", f"--conf=spark.ssl.keyPassword={MASK}: bad"),
        ('Login required username="u" password="pw";', f'Login required username="u" password="{MASK}";'),
        ("token=abc def", f"token={MASK} def"),
        ("startingOffsets=earliest&format=json", "startingOffsets=earliest&format=json"),
    ],
)  # fmt: skip
def test_redact_text_masks_secret_pairs(text: str, shown: str) -> None:
    assert redact_text(text) == shown


def test_redact_options() -> None:
    assert redact_options({"kafka.sasl.password": "x", "format": "json"}) == {
        "kafka.sasl.password": MASK,
        "format": "json",
    }


def test_address_conceals_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-in-address"
    jaas = (
        f'org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="{secret}";'
    )
    address = parse_source(
        f"kafka://127.0.0.1:9092/words?kafka.sasl.jaas.config={jaas}&kafka.sasl.mechanism=SCRAM-SHA-256"
    )
    assert secret not in address.raw and secret not in repr(address) and secret not in address.canonical
    assert address.canonical == "kafka://127.0.0.1:9092/words?kafka.sasl.mechanism=SCRAM-SHA-256"
    reference = address.params["kafka.sasl.jaas.config"]
    assert reference.startswith(REFERENCE) and secret not in reference
    assert reveal(address.params)["kafka.sasl.jaas.config"] == jaas
    # the value lives in the environment under a name made of the option and the location only
    variable = variable_name(address.location, "kafka.sasl.jaas.config")
    assert os.environ[variable] == jaas and variable.startswith(PREFIX)
    # and from now on this process masks it wherever it appears
    assert redact_text(f"broker said: {jaas}") == f"broker said: {MASK}"


def test_a_rotated_secret_keeps_its_reference_and_the_manifest_its_meaning() -> None:
    first = parse_sink("kafka://127.0.0.1:9092/out?kafka.sasl.password=old-password")
    second = parse_sink("kafka://127.0.0.1:9092/out?kafka.sasl.password=new-password")
    assert first.params == second.params
    assert reveal(second.params)["kafka.sasl.password"] == "new-password"
    old = Manifest("wordcount", "structured", {"sink": first.canonical}, "1", "4")
    new = Manifest("wordcount", "structured", {"sink": second.canonical}, "1", "4")
    assert differences(old, new) == []
    changed = parse_sink("kafka://127.0.0.1:9092/out?kafka.sasl.password=p2&key=word")
    assert differences(old, Manifest("wordcount", "structured", {"sink": changed.canonical}, "1", "4"))


def test_reveal_without_the_environment_names_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    concealed = conceal("kafka://h:1/t", {"kafka.sasl.password": "pw-not-here"})
    variable = concealed["kafka.sasl.password"].removeprefix(REFERENCE)
    monkeypatch.delenv(variable)
    with pytest.raises(SecretMissingError) as caught:
        reveal(concealed)
    assert "kafka.sasl.password" in str(caught.value) and variable in str(caught.value)
    assert "pw-not-here" not in str(caught.value)


def test_errors_never_show_a_secret() -> None:
    with pytest.raises(AddressError) as caught:
        parse_source("kafka://127.0.0.1/words?kafka.sasl.password=never-shown-1")
    assert "never-shown-1" not in str(caught.value)
    assert "never-shown-1" not in str(ConfigError("kafka.ssl.key.password", "never-shown-1", "text"))


def test_concealed_argument_is_parsed_back_to_the_same_secret() -> None:
    argument = "--source=kafka://127.0.0.1:9092/t?kafka.sasl.password=argv-secret&startingOffsets=earliest"
    concealed = concealed_argument(argument)
    assert "argv-secret" not in concealed and concealed.startswith("--source=kafka://127.0.0.1:9092/t?")
    address = parse_source(concealed.removeprefix("--source="))
    assert reveal(address.params) == {"kafka.sasl.password": "argv-secret", "startingOffsets": "earliest"}
    assert concealed_argument("--duration=10s") == "--duration=10s"
    assert concealed_argument("file:///tmp/x?format=json") == "file:///tmp/x?format=json"


def test_a_reference_is_shown_as_it_is() -> None:
    text = f"kafka.sasl.password={REFERENCE}SPARKKIT_SECRET_0123"
    assert redact_text(text) == text


def test_concealed_secrets_in_the_environment_are_not_job_options(tmp_path: Path) -> None:
    from sparkkit.config import load_config

    address = "kafka://127.0.0.1:9092/t?kafka.sasl.password=env-secret"
    concealed = parse_source(address)
    variable = concealed.params["kafka.sasl.password"].removeprefix(REFERENCE)
    config = load_config("wordcount", env={variable: "env-secret", "SPARKKIT_SOURCE": address})
    assert [a.params for a in config.source] == [concealed.params]
