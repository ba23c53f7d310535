"""How a library's exception is quoted inside our one-line errors."""

from melanoma.errors import first_line


def test_first_line_keeps_the_message_and_drops_the_context():
    err = RuntimeError("\n  failed finding central directory\nThis is an internal miniz error...")
    assert first_line(err) == "failed finding central directory"
    assert len(first_line(ValueError("x" * 1000))) == 160


def test_first_line_of_a_silent_exception_is_its_type():
    assert first_line(EOFError()) == "EOFError"
