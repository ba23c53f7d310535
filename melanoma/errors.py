"""The one exception family the CLIs turn into a one-line message and exit code 2."""


class UserError(ValueError):
    """Bad input from the user (data, checkpoint, flag, path); the message names it."""
