"""Errors that a user can fix, reported as one line without a traceback."""

from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input (model name, config value, data files, checkpoint).

    The message is a single line that says what is wrong and how to fix it. The command-line
    entry point prints it as ``error: <message>`` and exits with status 2.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class ConfigError(UserError):
    """An invalid configuration value."""


class DataError(UserError):
    """Missing or malformed dataset files."""


class CheckpointError(UserError):
    """A checkpoint or run folder that cannot be loaded."""


def one_line_error(exc: BaseException) -> str:
    """``Type: first line of the message`` (UserErrors are already one line)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, UserError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
