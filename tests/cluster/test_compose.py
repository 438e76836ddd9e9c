"""docker-compose.yml and the Dockerfile, checked without Docker (no engine on these machines).

Every command a service runs must be one the no-Docker tests also run: the same ``spark-class``
master and worker invocations as ``sparkkit cluster up``, the same ``sparkkit submit`` and
``sparkkit cluster status --ui`` commands; the image, volumes, health checks and ports must be
as the README describes them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkkit.cli import parse_job_options, submit_parser
from sparkkit.cluster import master_command, worker_command

ROOT = Path(__file__).resolve().parents[2]
SPARK_SERVICES = ("spark-master", "spark-worker-1", "spark-worker-2", "submit")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def as_spark_class(command: list[str]) -> list[str]:
    """``/path/to/pyspark/bin/spark-class ARGS`` as the image's PATH runs it: ``spark-class ARGS``."""
    return ["spark-class", *command[1:]]


def test_the_services_are_a_master_two_workers_kafka_and_submit(compose: dict[str, Any]) -> None:
    assert set(services(compose)) == {"spark-master", "spark-worker-1", "spark-worker-2", "kafka", "submit"}


def test_spark_services_share_one_image_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    for name in SPARK_SERVICES:
        service = services(compose)[name]
        assert service["image"] == "sparkkit:local" and service["build"] == ".", name
    assert (ROOT / "Dockerfile").is_file()
    assert services(compose)["kafka"]["image"].startswith("apache/kafka:")


def test_master_and_workers_run_the_commands_of_sparkkit_cluster_up(compose: dict[str, Any]) -> None:
    master = services(compose)["spark-master"]["command"]
    assert master == as_spark_class(master_command(7077, 8080, host="spark-master"))
    for n in (1, 2):
        worker = services(compose)[f"spark-worker-{n}"]["command"]
        expected = worker_command(
            "spark://spark-master:7077",
            1,
            "2g",
            Path("/data/work"),
            host=f"spark-worker-{n}",
            ui_port=8080 + n,
        )
        assert worker == as_spark_class(expected)


def test_submit_runs_a_valid_sparkkit_submit(compose: dict[str, Any]) -> None:
    command = services(compose)["submit"]["command"]
    assert command[:2] == ["sparkkit", "submit"]
    job = command[2]
    own, job_args = submit_parser(job).parse_known_args(command[3:])
    assert own.master == "spark://spark-master:7077"
    config = parse_job_options(job, job_args)  # the options are valid for the job
    assert config.checkpoint == "/data/checkpoints"
    assert {a.scheme for a in config.source} == {"kafka"} and config.sink.scheme == "kafka"
    assert all(
        a.hosts == (("kafka", 19092),) for a in (*config.source, config.sink)
    )  # the container listener


def test_checkpoints_are_one_named_volume_at_the_same_path_everywhere(compose: dict[str, Any]) -> None:
    assert "checkpoints" in compose["volumes"]
    for name in SPARK_SERVICES:
        assert "checkpoints:/data/checkpoints" in services(compose)[name]["volumes"], name


def test_health_checks_and_startup_order(compose: dict[str, Any]) -> None:
    s = services(compose)
    assert s["spark-master"]["healthcheck"]["test"][1:] == [
        "sparkkit",
        "cluster",
        "status",
        "--ui",
        "http://spark-master:8080",
    ]
    for n in (1, 2):
        test = s[f"spark-worker-{n}"]["healthcheck"]["test"]
        assert test[1:6] == ["sparkkit", "cluster", "status", "--ui", "http://spark-master:8080"]
        assert test[6:] == ["--min-workers", str(n)]
        assert s[f"spark-worker-{n}"]["depends_on"] == {"spark-master": {"condition": "service_healthy"}}
    assert "kafka-broker-api-versions.sh" in " ".join(s["kafka"]["healthcheck"]["test"])
    assert s["submit"]["depends_on"] == {
        name: {"condition": "service_healthy"} for name in ("spark-worker-1", "spark-worker-2", "kafka")
    }


def test_kafka_listens_for_containers_and_for_the_host(compose: dict[str, Any]) -> None:
    env = services(compose)["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # single-node KRaft
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "INTERNAL://kafka:19092" in advertised and "HOST://localhost:9092" in advertised


def test_published_ports_are_bound_to_loopback(compose: dict[str, Any]) -> None:
    ports = [p for service in services(compose).values() for p in service.get("ports", [])]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports), ports


def test_the_dockerfile_installs_as_the_readme_says() -> None:
    readme = (ROOT / "README.md").read_text()
    install = re.search(r"## Install\n.*?```sh\n(.*?)```", readme, re.S)
    assert install, "README has no ## Install section with a sh block"
    readme_steps = [
        line.split("#")[0].strip() for line in install.group(1).splitlines() if "pip install" in line
    ]
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    docker_steps = [
        line.removeprefix("RUN ").strip()
        for line in dockerfile
        if line.startswith("RUN") and "pip install" in line
    ]
    assert readme_steps and docker_steps == readme_steps
