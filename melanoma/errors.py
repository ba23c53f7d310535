"""The one exception family the CLIs turn into a one-line message and exit code 2."""


class UserError(ValueError):
    """Bad input from the user (data, checkpoint, flag, path); the message names it."""


def first_line(err: BaseException) -> str:
    """A library exception's first line, to quote inside a one-line error (its type name
    if it has no text): torch, Pillow and onnx put pages of context after it."""
    lines = str(err).strip().splitlines()
    return lines[0][:160] if lines else type(err).__name__
