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
        super().__init__(f"{option}={value!s}{where}: {accepted}")


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
            "environment (executors on a cluster get it through spark.executorEnv)"
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
