"""Names as report.md shows them: as written, whatever Markdown would read in them.

A file's name, a manifest's words, a licence or a data path can hold any character;
report.md quotes them in its tables, bullets and headings, where a renderer would
turn them into emphasis, links, HTML, headings or lists.
"""

from __future__ import annotations

import re

from melanoma.errors import on_one_line

# What Markdown reads as markup in running text: emphasis and strikethrough (* _ ~), code
# (`), links and images ([ ]), raw HTML and autolinks (< >), entities (&), table bars (|),
# headings (#), GitHub's math ($), and the backslash that escapes them all.
MARKDOWN_MARKUP = {ord(c): "\\" + c for c in "\\`*_~[]<>&|#$"}
# A list marker, where a line or list item begins with a name (a preempted row's note: '- ' and
# then the name): '- x.onnx' made a list inside the note, '2024) x.onnx' one numbered 2024.
LIST_MARKER = re.compile(r"^([-+]|[0-9]{1,9}[.)])(?=\s|$)")
# Spaces that begin a line: four after a bullet's '- ' made the note a code block, and a
# table cell drops them. As character references they show, and mean, nothing else.
LEADING_SPACES = re.compile(r"^ +")
# What GitHub's extended autolinks start at (cmark-gfm: 'www.' and a scheme's '://'): a name
# 'https://host/x.onnx' was a link to that host. An escaped '.' or ':' shows the same
# character, and the autolink no longer sees its pattern. (An email-like 'm@2x.onnx' still
# becomes a mailto link: no escape breaks that one, it is found in the rendered text.)
AUTOLINK_START = re.compile(r"(?i)(?<=www)\.|:(?=//)")


def md_text(text: str) -> str:
    """`text` (a name, or a line quoting names) for report.md, in a table cell or not: on one line
    (on_one_line), and each character Markdown reads as markup backslash-escaped, so that a
    name like '*x*_[a](b)<img>.onnx' shows as written, not as emphasis, a link or HTML, and
    one beginning like a list marker ('- x', '1. x') or with spaces as written where it begins a
    line; 'https://...' or 'www....' in it is shown as written, not made a link."""
    escaped = on_one_line(text).translate(MARKDOWN_MARKUP)
    escaped = AUTOLINK_START.sub(lambda start: "\\" + start[0], escaped)
    escaped = LEADING_SPACES.sub(lambda spaces: "&#32;" * len(spaces[0]), escaped)
    return LIST_MARKER.sub(lambda marker: marker[1][:-1] + "\\" + marker[1][-1], escaped)
