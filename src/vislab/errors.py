"""The one user-facing error type.

A ``UserError`` is raised for anything the user can fix (bad config, missing or corrupt data,
a model that cannot take the data). The CLI turns it into a one-paragraph message and exit code 2;
any other exception is a bug or a runtime failure (exit 1).
"""


class UserError(Exception):
    """A problem with the user's input: the message names the culprit and the fix."""

    exit_code = 2


class DataError(UserError):
    """Missing, corrupt or unreadable data files."""


class ConfigError(UserError):
    """An invalid configuration key or value."""


class TrainingInterrupted(Exception):
    """Training stopped by a signal after writing a resumable checkpoint."""

    exit_code = 130
