"""other_process, the helper of the tests that run two commands on one folder at once."""

import pytest

from other_process import other_process

SLEEPS_FOREVER = """
import sys, time
print("starting", file=sys.stderr, flush=True)
time.sleep(10**6)
"""


def test_a_child_that_never_gets_ready_fails_the_test_with_its_stderr():
    """Its readline had no bound: a child stuck before its ready line hung the whole run."""
    with pytest.raises(pytest.fail.Exception, match=r"printed nothing within 1 s") as failed:
        with other_process(SLEEPS_FOREVER, ready="holding", ready_within=1):
            pass
    assert "its stderr:\nstarting" in str(failed.value)


def test_a_child_that_says_something_else_fails_the_test_with_its_stderr():
    script = 'import sys; print("oops", flush=True); sys.stdin.readline()'
    with pytest.raises(pytest.fail.Exception, match=r"printed 'oops\\n' within"):
        with other_process(script, ready="holding"):
            pass


def test_a_child_that_gets_ready_runs_until_the_block_ends():
    script = 'import sys; print("holding", flush=True); sys.exit(sys.stdin.readline() != "go\\n")'
    with other_process(script, ready="holding") as process:
        assert process.poll() is None  # still waiting for its line
    assert process.returncode == 0


def test_a_child_that_never_ends_fails_the_test_with_its_stderr():
    """The line that lets it end was sent with no bound on the wait that followed: a child
    stuck after it hung the whole run."""
    script = (
        'import sys, time; print("holding", flush=True); sys.stdin.readline(); '
        'print("stuck", file=sys.stderr, flush=True); time.sleep(10**6)'
    )
    with pytest.raises(pytest.fail.Exception, match=r"had not ended 1 s after") as failed:
        with other_process(script, ready="holding", end_within=1):
            pass
    assert "its stderr:\nstuck" in str(failed.value)


def test_a_child_ready_only_after_the_bound_fails_the_test():
    """`ready_within` is the bound: a child that would print its line later still fails,
    rather than have the test wait out the default 120 s for it."""
    script = (
        'import sys, time; print("starting", file=sys.stderr, flush=True); time.sleep(5); '
        'print("holding", flush=True); sys.stdin.readline()'
    )
    with pytest.raises(pytest.fail.Exception, match=r"printed nothing within 1 s"):
        with other_process(script, ready="holding", ready_within=1):
            pass
