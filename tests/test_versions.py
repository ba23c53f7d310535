"""Which build of the toolkit wrote an output: its commit, where anything says it."""

import os
import shutil
import subprocess

import pytest

from melanoma.versions import checkout_source, vcs_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo, *args):
    author = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    done = subprocess.run(["git", "-C", str(repo), *author, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A git work tree laid out as this project's: melanoma/versions.py, committed."""
    repo = tmp_path / "repo"
    (repo / "melanoma").mkdir(parents=True)
    (repo / "melanoma" / "versions.py").write_text("# the module\n")
    (repo / "pyproject.toml").write_text("[project]\n")
    (repo / ".gitignore").write_text(".venv/\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    return repo


def test_a_checkout_gives_its_commit_and_whether_its_code_differs_from_it(checkout):
    module = checkout / "melanoma" / "versions.py"
    head = git(checkout, "rev-parse", "HEAD")
    assert checkout_source(module) == {"commit": head, "modified": False}
    (checkout / "notes.md").write_text("not the toolkit's code\n")
    assert checkout_source(module) == {"commit": head, "modified": False}
    (checkout / "melanoma" / "new.py").write_text("x = 1\n")  # new, untracked: still its code
    assert checkout_source(module) == {"commit": head, "modified": True}
    (checkout / "melanoma" / "new.py").unlink()
    module.write_text("# edited\n")
    assert checkout_source(module) == {"commit": head, "modified": True}
    module.write_text("# the module\n")
    (checkout / "pyproject.toml").write_text("[project]\ndependencies = []\n")  # its pins
    assert checkout_source(module) == {"commit": head, "modified": True}


def test_an_installed_copy_is_not_the_code_of_a_checkout_around_it(checkout, tmp_path):
    """A wheel installed into a .venv inside a checkout would otherwise take its HEAD."""
    site = checkout / ".venv" / "lib" / "site-packages"
    shutil.copytree(checkout / "melanoma", site / "melanoma")
    assert checkout_source(site / "melanoma" / "versions.py") is None
    shutil.copytree(checkout / "melanoma", tmp_path / "elsewhere" / "melanoma")
    assert checkout_source(tmp_path / "elsewhere" / "melanoma" / "versions.py") is None


def test_a_copy_another_project_tracks_or_ignores_is_not_its_checkout(checkout):
    """A project that vendors the toolkit (vendor/melanoma/) or keeps an unpacked copy it
    ignores: the commit is that project's, not the code's."""
    vendored = checkout / "vendor" / "melanoma" / "versions.py"
    vendored.parent.mkdir(parents=True)
    vendored.write_text("# a copy\n")
    git(checkout, "add", ".")
    git(checkout, "commit", "-q", "-m", "vendor the toolkit")
    assert checkout_source(vendored) is None
    (checkout / ".gitignore").write_text(".venv/\nmelanoma/\n")
    git(checkout, "rm", "-q", "-r", "--cached", "melanoma")
    git(checkout, "commit", "-q", "-am", "the toolkit is not ours")
    assert checkout_source(checkout / "melanoma" / "versions.py") is None


def test_a_repository_without_a_commit_gives_none(tmp_path):
    """git rev-parse HEAD fails there, printing "HEAD", which is no commit."""
    repo = tmp_path / "repo"
    (repo / "melanoma").mkdir(parents=True)
    (repo / "melanoma" / "versions.py").write_text("# the module\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    assert checkout_source(repo / "melanoma" / "versions.py") is None


def test_an_install_from_a_git_url_gives_the_commit_pip_recorded():
    commit = "7c9c380" + "0" * 33
    from_git = (
        '{"url": "https://example.invalid/melanoma-mobile.git", '
        f'"vcs_info": {{"vcs": "git", "requested_revision": "main", "commit_id": "{commit}"}}}}'
    )
    assert vcs_commit(from_git) == {"commit": commit, "modified": False}
    # an install from a folder (a wheel built there, or editable): no commit recorded
    assert vcs_commit('{"url": "file:///src/melanoma-mobile", "dir_info": {}}') is None
    assert vcs_commit(None) is None and vcs_commit("not json") is None
    assert vcs_commit('["a list"]') is None


def test_asking_a_checkout_leaves_its_index_alone(checkout):
    """git status refreshes a stale index in place (taking index.lock): a `git add` or commit
    of the user's at that moment would fail; reading the commit must not write there."""
    module = checkout / "melanoma" / "versions.py"
    module.write_text(module.read_text())  # same content, newer stat: the index is stale
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 2 * 10**9))
    index = (checkout / ".git" / "index").read_bytes()
    assert checkout_source(module)["modified"] is False
    assert (checkout / ".git" / "index").read_bytes() == index


def test_a_git_hooks_repository_is_not_taken_for_the_checkout(checkout, tmp_path, monkeypatch):
    """git runs a hook with GIT_DIR set to the repository being committed to: a melanoma
    command run from a hook in another project recorded that project's commit as ours."""
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    git(other, "commit", "-q", "--allow-empty", "-m", "another project")
    head = git(checkout, "rev-parse", "HEAD")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    assert checkout_source(checkout / "melanoma" / "versions.py") == {
        "commit": head,
        "modified": False,
    }
