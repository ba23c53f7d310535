"""How a library's exception is quoted inside our one-line errors."""

from melanoma.errors import first_line, listing


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
