"""Storage that outlives a tansu broker: its ``s3://`` engine over a local S3 (moto's server).

The embedded broker keeps records in memory, so a stopped one loses them. With
``--storage-engine s3://BUCKET/`` tansu keeps records and offsets in S3 objects and a broker
started again on the same port serves them all. moto's S3 server answers locally, but reports
an object's LastModified in whole seconds, and tansu 0.6 answers ListOffsets(latest) from the
partition's newest object by LastModified: objects written within one second tie, and the
latest offset it answers may be an older one's. So this server reports LastModified to the
microsecond (moto keeps it so).

``python -m tests.s3_storage PORT`` runs the server; :class:`S3Storage` starts one, makes the
bucket, and gives the environment tansu needs to use it.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sparkkit.net import wait_for_port
from sparkkit.testing.plugin import free_port

BUCKET = "tansu"
MICROSECONDS = "%Y-%m-%dT%H:%M:%S.%fZ"


def _to_the_microsecond(moment: datetime | None) -> str | None:
    return moment.strftime(MICROSECONDS) if moment else None


def serve(argv: list[str]) -> int:
    """moto's server (``moto_server`` arguments), with S3's LastModified to the microsecond:
    in object listings (``iso_8601_datetime_without_milliseconds_s3``) and in the responses
    moto serializes (``TimestampSerializer._timestamp_iso8601_zeroed``)."""
    import moto.s3.models as models
    from moto.core.serialize import TimestampSerializer
    from moto.server import main

    models.iso_8601_datetime_without_milliseconds_s3 = _to_the_microsecond  # type: ignore[assignment]

    def zeroed(_serializer: Any, moment: datetime) -> str:
        return moment.strftime(MICROSECONDS)

    TimestampSerializer._timestamp_iso8601_zeroed = zeroed  # type: ignore[method-assign,assignment]
    main(argv)
    return 0


class S3Storage:
    """A local S3 server (a process of its own) with the bucket ``tansu``."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.s3_storage", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        proc = self.proc
        assert wait_for_port("127.0.0.1", self.port, 60, lambda: proc.poll() is None), log.read_text()
        import boto3

        s3 = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="x", aws_secret_access_key="x",
        )  # fmt: skip
        s3.create_bucket(Bucket=BUCKET)

    @property
    def storage(self) -> str:
        """tansu's ``--storage-engine``."""
        return f"s3://{BUCKET}/"

    def env(self) -> dict[str, str]:
        """What tansu needs in its environment to use this server."""
        return {
            "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT": self.endpoint, "AWS_ALLOW_HTTP": "true",
        }  # fmt: skip

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
