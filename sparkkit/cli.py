"""The ``sparkkit`` command: ``run JOB``, ``submit JOB``, ``jobs``, ``checkpoint``, ``kafka``,
``cluster``, ``warm-up``.

Every error sparkkit raises on purpose ends the command with one line on stderr and its exit
code (2 for configuration), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from sparkkit import __version__
from sparkkit.class_archive import mode as class_archive_mode
from sparkkit.config import OPTIONS, JobConfig, load_config, one_line, spelt, unknown_option
from sparkkit.duration import ACCEPTED as DURATION_ACCEPTED
from sparkkit.duration import Duration
from sparkkit.errors import ConfigError, SparkkitError, UnknownOptionError, UsageError
from sparkkit.jobs import JOBS, get_job


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors (a flag without its value...) are one-line errors, exit 2."""

    def error(self, message: str) -> NoReturn:
        found = re.match(r"argument (\S+?)(?:/\S+)?: ", message)
        raise UsageError(found.group(1) if found else self.prog, message, self.prog)


def job_parser(job_name: str, prog: str) -> argparse.ArgumentParser:
    """The option parser of one job: the common options plus the job's own."""
    job = get_job(job_name)
    parser = OneLineParser(
        prog=prog,
        description=f"{job.name}: {job.summary}",
        allow_abbrev=False,
        epilog="Options may also come from SPARKKIT_<OPTION> environment variables and conf/jobs/"
        f"{job.name}.toml; flags win over the environment, which wins over the file.",
    )
    for name in job.options:
        spec = OPTIONS[name]
        parser.add_argument(
            spec.flag,
            dest=name,
            metavar=name.split("_")[-1].upper(),
            help=spec.help,
            action="append" if spec.many else "store",
        )
    return parser


def parse_job_options(job_name: str, argv: Sequence[str], prog: str | None = None) -> JobConfig:
    """A job's configuration from its command-line options (plus environment and TOML file)."""
    job = get_job(job_name)
    parser = job_parser(job_name, prog or f"sparkkit run {job_name}")
    args, unknown = parser.parse_known_args(list(argv))
    if unknown:
        bad = spelt(unknown[0].split("=", 1)[0])
        if not bad.startswith("--"):
            raise UnknownOptionError(
                bad, None, "command line", "unexpected argument; options take the form --name VALUE"
            )
        raise unknown_option(
            bad, bad[2:].replace("-", "_"), job.options, "command line", lambda n: OPTIONS[n].flag, job.name
        )
    return load_config(job_name, job.options, vars(args))


def run_job_main(job_name: str, argv: Sequence[str], prog: str | None = None) -> int:
    """Parse a job's options, run it, print its summary; the exit code."""
    from sparkkit.runner import run

    try:
        stats = run(parse_job_options(job_name, argv, prog))
    except SparkkitError as exc:
        return fail(exc)
    print(f"[sparkkit] stopped {stats.summary()}", flush=True)
    return 0


def streams_parser() -> argparse.ArgumentParser:
    """``sparkkit run streams``: the stream processor over a pipeline file."""
    parser = OneLineParser(
        prog="sparkkit run streams",
        allow_abbrev=False,
        description="The stream processor: the pipeline file's streams, archived and kept in working "
        "storage, and its standing SQL queries, all running until --duration or Ctrl-C.",
    )
    parser.add_argument("--pipeline", default=None, help="the pipeline file (default conf/jobs/streams.toml)")
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="state root: ROOT/<pipeline>/<query> (default: a new temporary one)",
    )
    parser.add_argument("--archive", default=None, help="archive directory (default ROOT/<pipeline>/archive)")
    parser.add_argument(
        "--duration", default="0", help="stop after this long, e.g. 60s (default 0: run until Ctrl-C)"
    )
    parser.add_argument("--master", default=None, help="Spark master URL (default local[*])")
    parser.add_argument("--api", default="structured", help="structured (the processor is Structured only)")
    parser.add_argument(
        "--show",
        default="5",
        help="rows of each memory:// query's batches to print as they come (0: none)",
    )
    parser.add_argument(
        "--connect-address",
        default="127.0.0.1",
        help="address the Spark Connect endpoint for ad-hoc queries binds (default 127.0.0.1: this "
        "machine only)",
    )
    parser.add_argument(
        "--connect-port", default="0", help="its port (default 0: a free one, see endpoint.json)"
    )
    parser.add_argument(
        "--ask",
        action="append",
        default=[],
        metavar="SQL",
        help="before stopping, ask the still-running job this ad-hoc query through `sparkkit query` "
        "and print the answer (may be repeated)",
    )
    return parser


def run_streams_main(argv: Sequence[str]) -> int:
    """``sparkkit run streams``: parse, refuse what cannot run, run the pipeline."""
    from sparkkit.processor import run_pipeline

    parser = streams_parser()
    args, unknown = parser.parse_known_args(list(argv))
    if unknown:
        bad = spelt(unknown[0].split("=", 1)[0])
        flags = [flag for action in parser._actions for flag in action.option_strings]
        raise unknown_option(bad, bad, flags, "command line", str)
    if args.master is not None:
        try:
            OPTIONS["master"].parse(args.master)
        except ValueError:
            raise ConfigError("--master", one_line(args.master), OPTIONS["master"].accepted) from None
    if args.api != "structured":
        stateful = ", ".join(JOBS)
        raise ConfigError(
            "--api",
            one_line(args.api),
            f"structured: the stream processor runs SQL; jobs with DStream forms: {stateful}",
        )
    try:
        duration = Duration.parse(args.duration)
    except ValueError:
        raise ConfigError("--duration", one_line(args.duration), DURATION_ACCEPTED) from None
    show = args.show.strip()
    if not (show.isascii() and show.isdigit()):
        raise ConfigError("--show", one_line(args.show), "a whole number >= 0")
    port = args.connect_port.strip()
    if not (port.isascii() and port.isdigit() and int(port) < 65536):
        raise ConfigError(
            "--connect-port", one_line(args.connect_port), "a TCP port, 1-65535, or 0 for a free one"
        )
    run_pipeline(
        args.pipeline,
        args.checkpoint,
        args.archive,
        duration,
        args.master,
        int(show),
        connect=(args.connect_address, int(port)),
        ask=args.ask,
    )
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from sparkkit.adhoc import ADHOC_THREAD, answer_json_lines, answer_table, ask
    from sparkkit.endpoint import find_endpoint

    if args.timeout <= 0:
        raise ConfigError("--timeout", args.timeout, "a number of seconds > 0")
    endpoint = find_endpoint(Path(args.checkpoint), args.pipeline)
    try:
        answer = ask(endpoint, args.sql, args.timeout)
    except SparkkitError as exc:
        code = fail(exc)
        if any(thread.name == ADHOC_THREAD for thread in threading.enumerate()):
            # a client still waiting on the job would hold the interpreter's exit (gRPC, and
            # PySpark releasing its session at exit): leave now
            sys.stdout.flush()
            os._exit(code)
        return code
    if args.json:
        for line in answer_json_lines(answer):
            print(line)
    else:
        answer_table(answer, sys.stdout)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from sparkkit.liveview import print_status

    return print_status(Path(args.checkpoint), args.pipeline, sys.stdout)


def _cmd_backfill(args: argparse.Namespace) -> int:
    from sparkkit.backfill import run_backfill

    run_backfill(args.pipeline, args.archive, args.out, args.start, args.end, args.master)
    return 0


def fail(exc: SparkkitError) -> int:
    print(f"sparkkit: error: {exc}", file=sys.stderr, flush=True)
    return exc.exit_code


def _cmd_warm_up(args: argparse.Namespace) -> int:
    from sparkkit.warmup import warm_up

    done = warm_up()
    print(done.state, flush=True)
    return 1 if done.failed else 0


def _cmd_jobs(args: argparse.Namespace) -> int:
    width = max(len(name) for name in JOBS)
    for name, job in JOBS.items():
        print(f"{name.ljust(width)}  {job.summary}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from sparkkit.checkpoint import inspect

    info = inspect(args.directory)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    manifest = info["manifest"]
    print(f"checkpoint: {info['path']}")
    print(f"job:        {manifest['job']} (--api {manifest['api']})")
    print(f"written by: sparkkit {manifest['sparkkit_version']}, Spark {manifest['spark_version']}")
    print("state-shaping options:")
    for name, value in sorted(manifest["state"].items()):
        print(f"  --{name.replace('_', '-')}: {value}")
    last = info.get("last_written_batch")
    if last:
        when = datetime.fromtimestamp(last["batch_time_ms"] / 1000).isoformat(sep=" ")
        batch_id = f", batch id {last['batch_id']}" if last.get("batch_id") is not None else ""
        print(f"last written batch: {when}{batch_id}, {last['rows']} rows")
    else:
        print("last written batch: none")
    if "last_committed_batch_id" in info:
        print(f"last committed batch id (Spark): {info['last_committed_batch_id']}")
    if info.get("last_checkpoint_time_ms"):
        when = datetime.fromtimestamp(info["last_checkpoint_time_ms"] / 1000).isoformat(sep=" ")
        print(f"last checkpointed batch time (Spark): {when}")
    return 0


def _cmd_reset(args: argparse.Namespace) -> int:
    from sparkkit.checkpoint import reset

    print(f"removed {reset(args.directory, force=args.force)}")
    return 0


RUN_USAGE = (
    "usage: sparkkit run streams|JOB [options]\n\n`sparkkit run streams --pipeline FILE` runs the stream "
    "processor (`sparkkit run streams --help`).\nRun a single-purpose job: "
    + ", ".join(JOBS)
    + ".\n`sparkkit run JOB --help` lists a job's options; `sparkkit jobs` describes the jobs."
)


def _cmd_kafka(args: argparse.Namespace) -> int:
    from sparkkit.broker import EmbeddedBroker
    from sparkkit.net import check_port

    broker = EmbeddedBroker(args.state_dir)
    if args.action == "up":
        check_port("--port", args.port, free=False)  # a taken one: PortTakenError from up()
        was_running = broker.status().running
        status = broker.up(args.port)
        verb = "already running" if was_running else "started"
        print(f"kafka broker {verb}: bootstrap {status.bootstrap} (pid {status.pid}, log {status.log})")
    elif args.action == "down":
        print("kafka broker stopped" if broker.down() else "kafka broker was not running")
    else:
        status = broker.status()
        if not status.running:
            print(f"kafka broker not running (state in {broker.state_dir})")
            return 3
        print(f"kafka broker running: bootstrap {status.bootstrap} (pid {status.pid}, log {status.log})")
    return 0


def _cmd_cluster(args: argparse.Namespace) -> int:
    from sparkkit.cluster import LocalCluster

    cluster = LocalCluster(args.state_dir)
    if args.action == "up":
        for name in ("workers", "cores"):
            if getattr(args, name) < 1:
                raise ConfigError("--" + name, getattr(args, name), "a whole number >= 1")
        if not re.fullmatch(r"\d+[kmgt]?", args.memory.lower()):
            raise ConfigError("--memory", args.memory, "an amount such as 512m or 2g")
        was_running = cluster.status().running
        status = cluster.up(args.workers, args.cores, args.memory, args.port, args.ui_port)
        print(f"{'already running' if was_running else 'started'}: {status.describe()}")
    elif args.action == "down":
        stopped = cluster.down()
        print(f"stopped {stopped} processes" if stopped else "no local cluster was running")
    else:
        from sparkkit.cluster import status_at

        status = status_at(args.ui) if args.ui else cluster.status()
        print(status.describe())
        if not status.running or status.workers < args.min_workers:
            return 3
    return 0


def submit_parser(job: str) -> argparse.ArgumentParser:
    """``sparkkit submit``'s own options; everything else is the job's."""
    parser = OneLineParser(
        prog=f"sparkkit submit {job}",
        allow_abbrev=False,
        description="Run a job with spark-submit, sparkkit shipped to the executors. Options other "
        f"than these are the job's (`sparkkit run {job} --help`).",
    )
    parser.add_argument("--master", default=None, help="master URL (default: the running `sparkkit cluster`)")
    parser.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="Spark configuration"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the spark-submit command only")
    return parser


def _cmd_submit(args: argparse.Namespace) -> int:
    from sparkkit.cluster import LocalCluster
    from sparkkit.submit import submit

    get_job(args.job)
    own, job_args = submit_parser(args.job).parse_known_args(args.options)
    master = own.master
    if master is None:
        master = LocalCluster().status().master_url
        if master is None:
            raise ConfigError(
                "--master", "", "a master URL such as spark://HOST:7077 (no `sparkkit cluster` runs)"
            )
    return submit(args.job, master, job_args, own.conf, own.dry_run)


def _cmd_produce(args: argparse.Namespace) -> int:
    from sparkkit.addresses import parse_sink
    from sparkkit.producer import produce, records_from

    address = parse_sink(args.address, "ADDRESS")
    if address.scheme != "kafka":
        raise ConfigError("ADDRESS", args.address, "expected kafka://HOST:PORT/TOPIC")
    for name in ("rate", "count", "flush_every"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ConfigError("--" + name.replace("_", "-"), value, "a number > 0")
    sent = produce(address, records_from(args.source), args.rate, args.count, args.flush_every)
    print(f"sent {sent} records to {address.raw}")
    return 0


def _background_command(
    commands: argparse._SubParsersAction[OneLineParser], name: str, text: str, what: str,
    actions: dict[str, str], func: Callable[[argparse.Namespace], int],
) -> dict[str, OneLineParser]:  # fmt: skip
    """``sparkkit NAME up|down|status`` for background processes kept in a state directory."""
    command = commands.add_parser(name, help=text, description=f"{what}: {text}.")
    subcommands = command.add_subparsers(dest="action", required=True, metavar="ACTION")
    parsers = {}
    for action, action_text in actions.items():
        sub = subcommands.add_parser(action, help=action_text, description=f"{what}: {action_text}.")
        sub.add_argument(
            "--state-dir", type=Path, default=None, help="pid files and logs (default ~/.local/state)"
        )
        sub.set_defaults(func=func)
        parsers[action] = sub
    return parsers


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="sparkkit", description="Build, run and test PySpark streaming jobs.")
    parser.add_argument("--version", action="version", version=f"sparkkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, text, description in (
        ("run", "run a job", "Run a job; `sparkkit run JOB --help` lists its options."),
        ("submit", "run a job with spark-submit",
         "Run a job with spark-submit, sparkkit shipped to the executors; "
         "`sparkkit submit JOB --help` lists submit's own options."),
    ):  # fmt: skip
        job_command = commands.add_parser(name, help=text, add_help=False, description=description)
        choices = ", ".join(("streams", *JOBS) if name == "run" else JOBS)
        job_command.add_argument("job", metavar="JOB", help=f"one of: {choices}")
        job_command.add_argument("options", nargs=argparse.REMAINDER, help="the job's options")
        if name == "submit":
            job_command.set_defaults(func=_cmd_submit)

    backfill = commands.add_parser(
        "backfill",
        help="run a pipeline's standing queries as batch jobs over its archive",
        description="Run every standing query of a pipeline as a batch job over the archive; "
        "writes OUT/<query>/ as JSON lines, the same columns as the streaming output.",
    )
    backfill.add_argument(
        "--pipeline", default=None, help="the pipeline file (default conf/jobs/streams.toml)"
    )
    backfill.add_argument("--archive", required=True, help="the archive directory (ROOT/<pipeline>/archive)")
    backfill.add_argument("--out", required=True, help="output directory: OUT/<query>/")
    backfill.add_argument(
        "--from",
        dest="start",
        default=None,
        help="only records at or after this event time (ISO-8601, UTC without a zone); "
        "a window across the bound counts only the records inside",
    )
    backfill.add_argument(
        "--to", dest="end", default=None, help="only records before this event time (ISO-8601)"
    )
    backfill.add_argument("--master", default=None, help="Spark master URL (default local[*])")
    backfill.set_defaults(func=_cmd_backfill)

    query = commands.add_parser(
        "query",
        help="ask a running job an ad-hoc SQL query",
        description="Ask a running job (`sparkkit run streams`) an ad-hoc SQL query through its Spark "
        "Connect endpoint (ROOT/<pipeline>/endpoint.json). Its views: global_temp.<stream> (working "
        "storage), global_temp.<query> (memory:// outputs), global_temp.<query>_state (the current "
        "state of a stateful query), global_temp.<stream>_sample (a stream's sample).",
    )
    query.add_argument("sql", metavar="SQL", help="the query, e.g. 'SELECT * FROM global_temp.clicks'")
    query.add_argument("--checkpoint", required=True, help="the running job's state root (ROOT)")
    query.add_argument("--pipeline", default=None, help="which job, when several run on ROOT")
    query.add_argument("--json", action="store_true", help="print one JSON object per row")
    query.add_argument(
        "--timeout", type=float, default=60.0, help="give up after this many seconds (default 60)"
    )
    query.set_defaults(func=_cmd_query)
    status_cmd = commands.add_parser(
        "status",
        help="the live table of a running job, from another terminal",
        description="Print the latest batch of every query of a job from ROOT/<name>/metrics.jsonl, and "
        "whether the job is still running.",
    )
    status_cmd.add_argument("--checkpoint", required=True, help="the job's state root (ROOT)")
    status_cmd.add_argument("--pipeline", default=None, help="which job or pipeline, when ROOT holds several")
    status_cmd.set_defaults(func=_cmd_status)

    warm = commands.add_parser(
        "warm-up",
        help="write the driver's class archive now, for faster starts",
        description="Start a driver and run short jobs through both APIs so that it writes the JVM "
        "class archive every later driver starts from (sparkkit.class_archive); does nothing when "
        "there is one. Exit 1 when the driver could not write it. SPARKKIT_CLASS_ARCHIVE=off "
        "turns the archive off.",
    )
    warm.set_defaults(func=_cmd_warm_up)
    jobs = commands.add_parser("jobs", help="list the jobs", description="List the jobs.")
    jobs.set_defaults(func=_cmd_jobs)

    checkpoint = commands.add_parser(
        "checkpoint",
        help="inspect or reset a checkpoint",
        description="Inspect or reset a job's checkpoint (ROOT/JOB/QUERY).",
    )
    actions = checkpoint.add_subparsers(dest="action", required=True, metavar="ACTION")
    inspect_cmd = actions.add_parser(
        "inspect",
        help="print the manifest and the last completed batch",
        description="Print a checkpoint's manifest and last completed batch.",
    )
    inspect_cmd.add_argument(
        "directory", metavar="DIR", help="the query checkpoint directory, ROOT/JOB/QUERY"
    )
    inspect_cmd.add_argument("--json", action="store_true", help="print JSON")
    inspect_cmd.set_defaults(func=_cmd_inspect)
    reset_cmd = actions.add_parser("reset", help="delete a checkpoint", description="Delete a checkpoint.")
    reset_cmd.add_argument("directory", metavar="DIR", help="the query checkpoint directory, ROOT/JOB/QUERY")
    reset_cmd.add_argument("--force", action="store_true", help="delete even without a sparkkit manifest")
    reset_cmd.set_defaults(func=_cmd_reset)
    broker = _background_command(
        commands, "kafka", "run the embedded Kafka-compatible broker", "Embedded broker",
        {"up": "start it (idempotent)", "down": "stop it", "status": "is it running?"}, _cmd_kafka,
    )  # fmt: skip
    broker["up"].add_argument("--port", type=int, default=9092, help="port on 127.0.0.1 (default 9092)")
    cluster = _background_command(
        commands, "cluster", "run a local Spark standalone cluster (no Docker)", "Local cluster",
        {"up": "start it and wait for every worker (idempotent)", "down": "stop it",
         "status": "master URL, workers, cores, memory, running applications"}, _cmd_cluster,
    )  # fmt: skip
    status = cluster["status"]
    status.add_argument("--ui", default=None, help="ask the master at this web UI URL instead")
    status.add_argument(
        "--min-workers", type=int, default=0, help="exit 3 unless this many workers are alive"
    )
    up = cluster["up"]
    up.add_argument("--workers", type=int, default=2, help="number of workers (default 2)")
    up.add_argument("--cores", type=int, default=1, help="cores per worker (default 1)")
    up.add_argument("--memory", default="2g", help="memory per worker (default 2g)")
    up.add_argument("--port", type=int, default=7077, help="master port (default 7077)")
    up.add_argument("--ui-port", type=int, default=8080, help="master web UI port (default 8080)")
    producer = commands.add_parser(
        "produce", help="send records to a Kafka topic", description="Send records to a Kafka topic."
    )
    producer.add_argument("address", metavar="ADDRESS", help="kafka://HOST:PORT[,HOST:PORT]/TOPIC")
    producer.add_argument(
        "--from", dest="source", default=None, help="FILE, generator://NAME?... or - (stdin)"
    )
    producer.add_argument(
        "--rate", type=float, default=None, help="records per second (default: as fast as possible)"
    )
    producer.add_argument("--count", type=int, default=None, help="stop after this many records")
    producer.add_argument(
        "--flush-every",
        type=int,
        default=None,
        help="records per request (default: the client's batches, each partition's last record alone)",
    )
    producer.set_defaults(func=_cmd_produce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["run"] and (len(argv) == 1 or argv[1] in ("-h", "--help")):
        print(RUN_USAGE)
        return 0 if len(argv) > 1 else 2
    try:
        class_archive_mode()  # checked before any command starts Spark
        args = parser.parse_args(argv)
        if args.command == "run":
            if args.job == "streams":
                return run_streams_main(args.options)
            return run_job_main(args.job, args.options)
        return int(args.func(args))
    except SparkkitError as exc:
        return fail(exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
