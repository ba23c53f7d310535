"""How a library's exception, or a file's name, is quoted inside our one-line errors."""

import sys

from melanoma.errors import first_line, listing, on_one_line


def test_first_line_keeps_the_message_and_drops_the_context():
    err = RuntimeError("\n  failed finding central directory\nThis is an internal miniz error...")
    assert first_line(err) == "failed finding central directory"
    assert first_line(ValueError("x" * 1000)) == "x" * 157 + "..."
    assert first_line(ValueError("x" * 160)) == "x" * 160  # up to 160 characters: as it is


def test_a_long_first_line_ends_at_a_sentence_not_mid_word():
    torch_like = (
        "PytorchStreamReader failed reading zip archive: failed finding central directory. "
        "If you are seeing this error, there is a high chance that the file is truncated."
    )
    assert first_line(RuntimeError(torch_like)) == (
        "PytorchStreamReader failed reading zip archive: failed finding central directory."
    )
    # A sentence that ends early would quote almost nothing: "Error." names no cause.
    assert first_line(RuntimeError("Error. " + "y" * 200)) == "Error. " + "y" * 150 + "..."


def test_first_line_of_a_silent_exception_is_its_type():
    assert first_line(EOFError()) == "EOFError"


def test_a_listing_shows_the_first_names_and_says_there_are_more():
    assert listing(["a.jpg", "b.jpg"]) == "a.jpg, b.jpg"
    assert listing("abcde") == "a, b, c, d, e"  # five is all of them, not "..."
    assert listing(f"{i}.jpg" for i in range(6)) == "0.jpg, 1.jpg, 2.jpg, 3.jpg, 4.jpg, ..."
    assert listing(["a", "b", "c", "d"], most=3) == "a, b, c, ..."


def test_every_character_that_breaks_a_line_is_escaped():
    """Terminals and str.splitlines() break lines at more than \\n and \\r: a file name holding
    any of them (\\x1c, \\x85, \\u2029, ...) must not split an error or a warning in two."""
    breaks = [chr(c) for c in range(sys.maxunicode + 1) if len(f"a{chr(c)}b".splitlines()) > 1]
    assert len(breaks) == 10
    for c in breaks:
        escaped = on_one_line(f"a{c}b")
        assert escaped.splitlines() == [escaped] and escaped.startswith("a\\"), repr(c)


def test_no_control_character_reaches_the_terminal():
    """A file name's ESC starts a sequence a terminal runs (cursor moves, erasing lines,
    the window title; ESC E is a line break) and U+202E shows it reversed: each is escaped,
    and printable names, accents and all, stay as written."""
    for c in [*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), "\u202e", "\u2066"]:
        assert on_one_line(f"a{c}b").isprintable(), repr(c)
    assert on_one_line("z\x1bE\x1b[2K.jpg") == "z\\x1bE\\x1b[2K.jpg"
    assert on_one_line("café Ø 黑色素瘤.jpg") == "café Ø 黑色素瘤.jpg"


def test_every_bidi_embedding_override_and_isolate_is_escaped():
    """Not only U+202E: U+202D (LRO), U+2067 (RLI) and the rest reorder what follows them
    on the terminal too, so a name holding any of them shows as its escape."""
    bidi = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # LRE..RLO, LRI..PDI
    for c in map(chr, bidi):
        assert on_one_line(f"a{c}b") == f"a\\u{ord(c):04x}b", repr(c)
