"""The one exception family the CLIs turn into a one-line message and exit code 2."""

from collections.abc import Iterable


class UserError(ValueError):
    """Bad input from the user (data, checkpoint, flag, path); the message names it."""


MAX_QUOTE = 160


def listing(names: Iterable[object], most: int = 5) -> str:
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


# What a terminal acts on instead of showing, each shown as its Python escape: the line
# breaks of terminals and str.splitlines(), every other control character (ESC and the C1
# CSI start escape sequences: a photo named 'z\x1b[1A\x1b[2K.jpg' erased the table row
# above its own, a flagged photo's), and the bidi overrides that show a name reversed. In
# Markdown a line break in an artifact's name began a '## Gate' heading of its own.
UNPRINTABLE = {
    c: repr(chr(c))[1:-1]
    for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F),
              *range(0x2066, 0x206A)]
}  # fmt: skip


def on_one_line(message: str) -> str:
    """A message that quotes a file name, on one line and as written: its line breaks and
    terminal escapes shown, not acted on."""
    return message.translate(UNPRINTABLE)
