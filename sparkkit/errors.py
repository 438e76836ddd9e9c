"""Exception types: one per kind of failure, so callers can catch what they can handle."""

from __future__ import annotations

from sparkkit.redaction import redact_text


class SparkkitError(Exception):
    """Base class of every error sparkkit raises on purpose; its text never shows a secret."""

    exit_code = 1

    def __str__(self) -> str:
        return redact_text(super().__str__())


class ConfigError(SparkkitError):
    """A configuration value is not accepted; raised before Spark starts.

    Parameters
    ----------
    option : str
        The option as the user spells it (``--window``, ``SPARKKIT_WINDOW``, ...).
    value : object
        The rejected value.
    accepted : str
        What would be accepted, in words.
    origin : str, optional
        Where the value came from (a file, the environment, the command line).
    """

    exit_code = 2

    def __init__(self, option: str, value: object, accepted: str, origin: str = "") -> None:
        self.option = option
        self.value = value
        self.accepted = accepted
        self.origin = origin
        where = f" (from {origin})" if origin else ""
        shown = str(value) if str(value).isprintable() else repr(str(value))
        super().__init__(f"{option}={shown}{where}: {accepted}")


class UnknownOptionError(ConfigError):
    """An option name that no job accepts; names the closest valid one."""

    def __init__(self, option: str, suggestion: str | None, origin: str = "", hint: str = "") -> None:
        hint = hint or (f"did you mean {suggestion}?" if suggestion else "see --help for the options")
        self.option = option
        self.value = ""
        self.accepted = f"unknown option; {hint}"
        self.origin = origin
        where = f" (from {origin})" if origin else ""
        SparkkitError.__init__(self, f"unknown option {option}{where}: {hint}")


class SecretMissingError(SparkkitError):
    """A concealed option's value is not in this process's environment (``SPARKKIT_SECRET_*``)."""

    def __init__(self, option: str, variable: str) -> None:
        self.option = option
        self.variable = variable
        super().__init__(
            f"the value of {option} is not available here: {variable} is not set in this process's "
            "environment (Python workers get it from the SparkContext of the process that parsed "
            "the address)"
        )


class AddressError(ConfigError):
    """A source or sink address string that cannot be parsed or is not supported."""


class CheckpointMismatchError(SparkkitError):
    """A restart whose state-shaping options differ from those the checkpoint was written with."""

    exit_code = 2


class CheckpointError(SparkkitError):
    """A checkpoint directory that is missing, foreign or unreadable."""

    exit_code = 2


class HarnessTimeoutError(SparkkitError):
    """The test harness waited longer than allowed for a batch to complete."""


class JobFailedError(SparkkitError):
    """A streaming query could not start, or stopped with an error; the message names it."""


class QueryRefusedError(SparkkitError):
    """Spark refuses a standing query of a pipeline (its SQL, or the output mode for it).

    Raised before any query starts; the message names the query and Spark's reason in one line.
    """

    exit_code = 2


class NotRunningError(SparkkitError):
    """An ad-hoc query or a status request found no running job to ask (or it did not answer)."""

    exit_code = 2


class AdHocQueryError(SparkkitError):
    """A running job refused an ad-hoc query (its SQL); the message is Spark's reason in one line."""


class UsageError(ConfigError):
    """A command line that cannot be parsed (a flag without its value, a stray argument)."""

    def __init__(self, option: str, message: str, command: str) -> None:
        self.option = option
        self.value = ""
        self.accepted = message
        self.origin = "command line"
        SparkkitError.__init__(self, f"{message} (see {command} --help)")


class PortTakenError(ConfigError):
    """A port sparkkit is asked to listen on is taken by another process: a configuration problem."""

    def __init__(self, option: str, host: str, port: int) -> None:
        super().__init__(
            option,
            port,
            f"port {host}:{port} is already taken by another process; stop it or choose another {option}",
        )


class BrokerError(SparkkitError):
    """The embedded broker could not be started, found or stopped."""


class ClusterError(SparkkitError):
    """The local cluster could not be started, reached or stopped."""


class KafkaError(SparkkitError):
    """A Kafka broker did not answer, or answered with an error; the message names it and the client."""


class KafkaAuthenticationError(KafkaError):
    """A Kafka broker refused the credentials (``kafka.sasl.*``); the message never shows them."""

    exit_code = 2


class DataLossError(KafkaError):
    """Kafka offsets a query still had to read are gone (retention) and ``failOnDataLoss`` is on."""


class CheckpointCorruptError(CheckpointError):
    """A file of a checkpoint is truncated or garbled; the message names it and the reset command.

    Raised before Spark starts: resuming from it would fail inside Spark or silently start over.
    """


class CheckpointVersionError(CheckpointError):
    """A checkpoint written by a sparkkit or Spark version this one cannot safely resume."""


class CheckpointUnwritableError(JobFailedError):
    """A run stopped because its checkpoint directory could not be written; names the directory."""


class BrokerTimeoutError(KafkaError):
    """A Kafka broker did not answer for longer than the address's ``brokerTimeout``.

    The message names the broker, the limit and what was being done, in one line; the job's
    checkpoint is intact, so a restart once the broker answers again resumes exactly.
    """
