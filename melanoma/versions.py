"""The versions checkpoints, manifests, reports and --version record, read from the
installed packages' metadata: `--version` printed them after importing torch (5 s).

The toolkit's own version is the one in pyproject.toml, the same for every build of it
until someone bumps it; toolkit_source says which commit the code came from, where that
can be known, so two builds' outputs can be told apart."""

from __future__ import annotations

import json
import os
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path

VERSIONED_PACKAGES = (
    "melanoma-mobile",  # this toolkit: which exporter and trainer wrote the file
    "torch",
    "torchvision",
    "executorch",
    "torchao",
    "coremltools",
    "onnx",
    "onnxruntime",
    "numpy",
)
# What the installed toolkit is built from (pyproject.toml's package-dir): a change
# anywhere else in a checkout (a README, a model trained into ./mine) is not its code.
CODE_PATHS = ("melanoma", "export", "benchmarks", "pyproject.toml")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def toolkit_source() -> dict | None:
    """{"commit", "modified"} of the code running now, or None where nothing says it.

    Run from a git checkout (an editable install): its HEAD, and whether the toolkit's
    tracked or new files differ from it. Installed from a git URL: the commit pip recorded
    (PEP 610's direct_url.json). A wheel or an install from a folder records no commit,
    and the folder may have moved on since: None, not a guess.

    A checkout another user owns is None too: git refuses it (safe.directory), and is not
    told to trust it, since its config would then run programs as us. With git 2.39.5 and
    `-c safe.directory=`, `ls-files` and `status` ran the checkout's core.fsmonitor program
    and `status` its clean filter (2026-12-07); only `rev-parse` ran nothing."""
    return checkout_source(Path(__file__).resolve()) or _installed_from_vcs()


def checkout_source(module: Path) -> dict | None:
    """The commit of the git work tree whose top folder holds `module`'s package, with
    `module` a file it tracks; None otherwise (an installed copy in a .venv inside a
    checkout is not the checkout's code)."""
    root = module.parent.parent
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return None
    tracked = module.relative_to(root).as_posix()
    if _git(root, "ls-files", "--error-unmatch", "--", tracked) is None:
        return None
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:  # a repository without a commit yet
        return None
    changes = _git(root, "status", "--porcelain", "--", *CODE_PATHS)
    return {"commit": commit, "modified": None if changes is None else bool(changes)}


def _git(where: Path, *args: str) -> str | None:
    """git's output, or None if git is missing, fails or hangs (a stale network mount).
    GIT_DIR and GIT_WORK_TREE would point it at another repository (a hook's).
    --no-optional-locks: else `git status` rewrites a stale index under index.lock, and a
    `git add` or commit the user runs at that moment fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
    command = ["git", "--no-optional-locks", "-C", str(where), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _installed_from_vcs() -> dict | None:
    try:
        return vcs_commit(importlib_metadata.distribution("melanoma-mobile").read_text(URL_FILE))
    except importlib_metadata.PackageNotFoundError:
        return None


URL_FILE = "direct_url.json"  # PEP 610: where an install came from


def vcs_commit(direct_url: str | None) -> dict | None:
    """The commit in a direct_url.json's vcs_info (pip install git+URL@ref): the installed
    code is that commit's, unmodified. None for any other origin or an unreadable file."""
    try:
        commit = json.loads(direct_url or "{}").get("vcs_info", {}).get("commit_id")
    except (ValueError, AttributeError):
        return None
    return {"commit": commit, "modified": False} if isinstance(commit, str) else None
