"""The one exception family the CLIs turn into a one-line message and exit code 2."""


class UserError(ValueError):
    """Bad input from the user (data, checkpoint, flag, path); the message names it."""


MAX_QUOTE = 160


def listing(names, most: int = 5) -> str:
    """The first `most` names, comma-separated, and "..." if there are more: a warning about
    a thousand files stays one readable line."""
    names = [str(n) for n in names]
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")


def first_line(err: BaseException) -> str:
    """A library exception's first line, to quote inside a one-line error (its type name
    if it has no text): torch, Pillow and onnx put pages of context after it. A long
    line ends at its last full sentence, or is cut with '...', never mid-word silently."""
    lines = str(err).strip().splitlines()
    if not lines:
        return type(err).__name__
    line = lines[0]
    if len(line) <= MAX_QUOTE:
        return line
    sentence_end = line.rfind(". ", 0, MAX_QUOTE)
    return line[: sentence_end + 1] if sentence_end >= 40 else line[: MAX_QUOTE - 3] + "..."
