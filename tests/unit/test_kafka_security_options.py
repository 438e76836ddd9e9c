"""Kafka security options as Spark's connector names them, translated for both Python clients.

Each case is checked against the real client libraries: librdkafka validates the properties
(``ClientConfig.check`` builds a producer with them), kafka-python's keywords are its own.
"""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import pytest

from sparkkit.addresses import parse_source
from sparkkit.errors import ConfigError
from sparkkit.kafka_client import ClientConfig

SCRAM = (
    "org.apache.kafka.common.security.scram.ScramLoginModule required "
    'username="alice" password="pa ss;w\\"rd";'
)
PLAIN = (
    'org.apache.kafka.common.security.plain.PlainLoginModule required username="bob" password="plain-secret";'
)


KERBEROS = 'com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/k";'


def client(kind: str, **options: str) -> ClientConfig:
    return ClientConfig(
        "127.0.0.1:9092", kind, {f"kafka.{k.replace('_', '.')}": v for k, v in options.items()}
    )


def test_scram_jaas_config_becomes_both_clients_settings() -> None:
    options = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_jaas_config": SCRAM}
    confluent = client("confluent", **options)
    confluent.check()
    settings = confluent.confluent()
    names = ("security.protocol", "sasl.mechanisms", "sasl.username", "sasl.password")
    assert {k: settings[k] for k in names} == {
        "security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "alice", "sasl.password": 'pa ss;w"rd',
    }  # fmt: skip
    assert "sasl.jaas.config" not in settings
    kafka_python = client("kafka-python", **options)
    kafka_python.check()
    assert kafka_python.kafka_python() == {
        "bootstrap_servers": "127.0.0.1:9092", "enable_auto_commit": False,
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice", "sasl_plain_password": 'pa ss;w"rd',
    }  # fmt: skip
    producer = kafka_python.kafka_python("producer")
    assert "enable_auto_commit" not in producer and producer["sasl_plain_username"] == "alice"


def test_plain_login_module_implies_plain_and_librdkafka_names_are_aliases() -> None:
    plain = client("kafka-python", security_protocol="sasl_plaintext", sasl_jaas_config=PLAIN).kafka_python()
    assert (plain["security_protocol"], plain["sasl_mechanism"], plain["sasl_plain_username"]) == (
        "SASL_PLAINTEXT", "PLAIN", "bob"
    )  # fmt: skip
    aliases = client(
        "confluent", security_protocol="SASL_PLAINTEXT", sasl_mechanisms="SCRAM-SHA-256",
        sasl_username="carol", sasl_password="pw",
    )  # fmt: skip
    aliases.check()
    assert {k: aliases.confluent()[k] for k in ("sasl.mechanisms", "sasl.username", "sasl.password")} == {
        "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": "carol", "sasl.password": "pw"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("options", "option", "fragment"),
    [
        ({"security_protocol": "SASL_SSL", "sasl_jaas_config": SCRAM}, "kafka.sasl.mechanism",
         "SCRAM-SHA-256 or SCRAM-SHA-512 with ScramLoginModule"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_jaas_config": SCRAM},
         "kafka.sasl.mechanism", "SCRAM-SHA-256 or SCRAM-SHA-512 with ScramLoginModule"),
        ({"sasl_mechanism": "PLAIN", "sasl_jaas_config": PLAIN}, "kafka.security.protocol",
         "SASL_PLAINTEXT or SASL_SSL to use kafka.sasl.jaas.config"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_jaas_config": KERBEROS},
         "kafka.sasl.jaas.config", "ScramLoginModule (SCRAM-SHA-256/512) or PlainLoginModule"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_jaas_config": "user=bob pass=x"},
         "kafka.sasl.jaas.config", "not a JAAS login module entry; expected org.apache.kafka.common"),
        ({"security_protocol": "TLS"}, "kafka.security.protocol", "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        ({"ssl_endpoint_identification_algorithm": "dns"}, "kafka.ssl.endpoint.identification.algorithm",
         "https"),
    ],
)  # fmt: skip
def test_settings_no_client_can_use_are_refused_naming_the_option(
    options: dict[str, str], option: str, fragment: str
) -> None:
    for kind in ("confluent", "kafka-python"):
        with pytest.raises(ConfigError) as refused:
            client(kind, **options).check()
        assert refused.value.option == option and refused.value.exit_code == 2
        assert fragment in str(refused.value)
        assert "secret" not in str(refused.value) and "w\\" not in str(refused.value)  # no password shown


def test_a_jks_trust_store_is_refused_with_what_to_use_instead() -> None:
    for kind in ("confluent", "kafka-python"):
        with pytest.raises(ConfigError) as refused:
            client(
                kind, ssl_truststore_location="/etc/kafka/truststore.jks", ssl_truststore_password="changeit"
            ).check()
        message = str(refused.value)
        assert refused.value.option == "kafka.ssl.truststore.location"
        assert "/etc/kafka/truststore.jks (a JKS trust store)" in message
        assert "kafka.ssl.ca.location=FILE.pem" in message and "changeit" not in message


def test_pem_stores_become_files_for_both_clients(tmp_path: Path) -> None:
    ca, both = write_pems(tmp_path)
    options = {
        "security_protocol": "SSL", "ssl_truststore_type": "PEM", "ssl_truststore_location": str(ca),
        "ssl_keystore_type": "PEM", "ssl_keystore_location": str(both),
        "ssl_endpoint_identification_algorithm": "",
    }  # fmt: skip
    confluent = client("confluent", **options)
    confluent.check()  # librdkafka loads the files
    settings = confluent.confluent()
    files = ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location")
    assert [settings[name] for name in files] == [str(ca), str(both), str(both)]
    assert settings["ssl.endpoint.identification.algorithm"] == "none"
    kafka_python = client("kafka-python", **options).kafka_python()
    names = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname")
    assert [kafka_python[name] for name in names] == [str(ca), str(both), str(both), False]


def test_a_pkcs12_key_store_is_for_librdkafka_only() -> None:
    options = {"security_protocol": "SSL", "ssl_keystore_type": "PKCS12", "ssl_keystore_location": "/k.p12",
               "ssl_keystore_password": "store-secret"}  # fmt: skip
    assert client("confluent", **options).confluent()["ssl.keystore.location"] == "/k.p12"
    with pytest.raises(ConfigError) as refused:
        client("kafka-python", **options).check()
    assert refused.value.option == "kafka.ssl.keystore.location"
    assert "kafka-python cannot use it" in str(refused.value) and "client=confluent" in str(refused.value)


def test_what_only_one_client_knows_is_refused_for_the_other() -> None:
    with pytest.raises(ConfigError) as refused:
        client("confluent", exclude_internal_topics="false").check()  # kafka-python's and Java's
    assert refused.value.option == "kafka.exclude.internal.topics" and "librdkafka" in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        client("kafka-python", queued_min_messages="10").check()  # librdkafka's only
    assert refused.value.option == "kafka.queued.min.messages" and "kafka-python has no such" in str(
        refused.value
    )
    # a consumer's setting is left out of a producer's, as the Java client ignores it
    both = client("kafka-python", max_poll_records="10")
    assert both.kafka_python()["max_poll_records"] == 10 and "max_poll_records" not in both.kafka_python(
        "producer"
    )


def test_secrets_stay_concealed_until_settings_are_built() -> None:
    jaas = SCRAM.replace('pa ss;w\\"rd', "top-secret-pw")
    address = parse_source(
        "kafka://127.0.0.1:9092/t?kafka.security.protocol=SASL_SSL&kafka.sasl.mechanism=SCRAM-SHA-256"
        f"&kafka.sasl.jaas.config={jaas.replace(' ', '%20').replace(';', '%3B').replace('=', '%3D')}"
    )
    config = ClientConfig.from_params(address.netloc, address.params)
    assert "top-secret-pw" not in repr(config) and b"top-secret-pw" not in pickle.dumps(config)
    assert config.confluent()["sasl.password"] == "top-secret-pw"
    assert config.kafka_python()["sasl_plain_password"] == "top-secret-pw"
    assert "top-secret-pw" in config.java()["kafka.sasl.jaas.config"]


def test_the_java_connector_gets_java_names_for_librdkafka_aliases() -> None:
    options = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "u",
               "sasl_password": "p", "ssl_ca_location": "/ca.pem"}  # fmt: skip
    assert client("confluent", **options).java() == {
        "kafka.security.protocol": "SASL_SSL", "kafka.sasl.mechanism": "SCRAM-SHA-256",
        "kafka.sasl.jaas.config":
            'org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";',
        "kafka.ssl.truststore.type": "PEM", "kafka.ssl.truststore.location": "/ca.pem",
    }  # fmt: skip


def write_pems(directory: Path) -> tuple[Path, Path]:
    """A self-signed CA certificate, and a file with a certificate and its key (a PEM key store)."""
    key, cert = directory / "key.pem", directory / "ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=sparkkit-test"],
        check=True, capture_output=True,
    )  # fmt: skip
    both = directory / "client.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    return cert, both


def test_a_client_config_never_shows_a_secret_and_java_gets_the_implied_mechanism() -> None:
    plain = client("confluent", security_protocol="SASL_SSL", sasl_jaas_config=PLAIN)
    assert "plain-secret" not in repr(plain) and "kafka.sasl.jaas.config" in repr(plain)
    java = plain.java()
    assert java["kafka.sasl.mechanism"] == "PLAIN"  # the Java client's default would be GSSAPI
    assert java["kafka.sasl.jaas.config"] == PLAIN
