"""android_demo/prepare_model.sh against the exporter's contract, with a stand-in exporter.

The contract: `melanoma-export --target executorch --quantize int8 --out DIR ...` writes
`DIR/<model>-executorch-int8.pte` and `DIR/<model>-executorch-int8.pte.manifest.json`.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from melanoma.manifest import manifest_path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "android_demo" / "prepare_model.sh"
MEAN = [0.7423, 0.5321, 0.5555]
STD = [0.1521, 0.1809, 0.1966]

# Copies a prepared export into --out and records its arguments, like the real CLI would write.
FAKE_EXPORTER = """#!{python}
import shutil, sys
from pathlib import Path
args = sys.argv[1:]
Path({log!r}).write_text("\\n".join(args))
out = Path(args[args.index("--out") + 1])
for f in Path({template!r}).iterdir():
    shutil.copy(f, out / f.name)
"""


@pytest.fixture
def fake_export(tmp_path, build_manifest) -> dict[str, Path]:
    """A stand-in melanoma-export on PATH that 'exports' a template pte + manifest."""
    template = tmp_path / "template"
    template.mkdir()
    pte = template / "cnn-supervised-executorch-int8.pte"
    pte.write_bytes(b"\x00fake executorch program\x01" * 64)
    manifest_path(pte).write_text(build_manifest(pte, MEAN, STD).to_json())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exporter = bin_dir / "melanoma-export"
    log = tmp_path / "exporter-args.txt"
    exporter.write_text(
        FAKE_EXPORTER.format(python=sys.executable, log=str(log), template=str(template))
    )
    exporter.chmod(0o755)
    return {"bin": bin_dir, "pte": pte, "log": log, "assets": tmp_path / "assets" / "model"}


def _run(
    fake: dict[str, Path], *args: str, env=None, script: Path = SCRIPT
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{fake['bin']}{os.pathsep}{os.environ['PATH']}",
        "PYTHON": sys.executable,
        "ASSETS_DIR": str(fake["assets"]),
        **(env or {}),
    }
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_copies_the_verified_export_into_assets(fake_export):
    assets = fake_export["assets"]
    assets.mkdir(parents=True)
    (assets / "old-executorch-int8.pte").write_bytes(b"old")
    (assets / "old-executorch-int8.pte.manifest.json").write_text("{}")

    result = _run(fake_export, "--checkpoint", "runs/cnn/best.pt")

    assert result.returncode == 0, result.stdout + result.stderr
    pte = fake_export["pte"]
    assert sorted(p.name for p in assets.iterdir()) == [pte.name, manifest_path(pte).name]
    assert (assets / pte.name).read_bytes() == pte.read_bytes()
    assert json.loads((assets / manifest_path(pte).name).read_text())["target"] == "executorch"
    args = fake_export["log"].read_text().split("\n")
    assert args[:4] == ["--target", "executorch", "--quantize", "int8"]
    assert args[4] == "--out" and args[6:] == ["--checkpoint", "runs/cnn/best.pt"]


def test_refuses_an_export_that_does_not_match_its_manifest(fake_export):
    fake_export["pte"].write_bytes(b"changed after the manifest was written")
    assets = fake_export["assets"]
    assets.mkdir(parents=True)
    (assets / "kept.pte").write_bytes(b"previous model")

    result = _run(fake_export)

    assert result.returncode != 0
    assert "does not match its manifest" in result.stderr, result.stderr
    assert [p.name for p in assets.iterdir()] == ["kept.pte"]  # assets left untouched


def test_a_copy_that_fails_keeps_the_previous_model(fake_export):
    """A full disk: cp writes half the file and fails. The old pair must stay, whole."""
    assets = fake_export["assets"]
    assets.mkdir(parents=True)
    (assets / "old-executorch-int8.pte").write_bytes(b"old")
    (assets / "old-executorch-int8.pte.manifest.json").write_text("{}")
    failing_cp = fake_export["bin"] / "cp"
    failing_cp.write_text(
        "#!/bin/bash\n"  # every argument but the last is a source; copy half of the first
        'dest="${@: -1}"; head -c 100 "$1" > "$dest/$(basename "$1")"; exit 1\n'
    )
    failing_cp.chmod(0o755)

    result = _run(fake_export)

    assert result.returncode != 0
    assert sorted(p.name for p in assets.iterdir()) == [
        "old-executorch-int8.pte",
        "old-executorch-int8.pte.manifest.json",
    ]  # nothing half-written, the staging folder gone
    assert (assets / "old-executorch-int8.pte").read_bytes() == b"old"


def test_refuses_an_export_without_a_pte(fake_export):
    for f in fake_export["pte"].parent.iterdir():
        f.unlink()
    result = _run(fake_export)
    assert result.returncode != 0
    assert "expected one *-executorch-int8.pte" in result.stderr


@pytest.mark.parametrize(
    ("option", "args"),
    [
        ("--out", ["--out", "keep"]),
        ("--quantize", ["--quantize=none"]),
        ("--target", ["--checkpoint", "x", "--target", "onnx"]),
    ],
)
def test_refuses_the_options_it_sets_itself(fake_export, option, args):
    result = _run(fake_export, *args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"prepare_model: {option} is set by this script")
    assert len(result.stderr.splitlines()) == 1
    assert not fake_export["log"].exists()  # the exporter never ran
    assert not fake_export["assets"].exists()


def test_a_bad_assets_path_or_exporter_is_refused_before_exporting(fake_export, tmp_path):
    fake_export["assets"].parent.mkdir()
    fake_export["assets"].write_text("a file where the folder goes")
    result = _run(fake_export)
    assert result.returncode == 2 and "exists and is not a folder" in result.stderr
    assert not fake_export["log"].exists()  # the exporter never ran
    fake_export["assets"].unlink()
    result = _run(fake_export, env={"MELANOMA_EXPORT": str(tmp_path / "nowhere")})
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "nowhere not found (activate the venv, or set MELANOMA_EXPORT)" in result.stderr


def test_help_is_the_scripts_own(fake_export):
    result = _run(fake_export, "--checkpoint", "reference-sgan", "--help")
    assert result.returncode == 0 and not fake_export["log"].exists()
    assert result.stdout.startswith("Export the int8 ExecuTorch model and copy it")
    assert "ASSETS_DIR (default app/src/main/assets/model" in result.stdout


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs git")
def test_runs_from_a_checkout_with_windows_line_endings(fake_export, tmp_path):
    # Git for Windows checks text out with CRLF (core.autocrlf=true), and bash (WSL's)
    # stopped at the script's first command: "set: pipefail: invalid option name".
    # A zip, not a tar: tarfile's filter= is missing before Python 3.11.4 (Debian 12's 3.11.2)
    # safe.directory: git refuses a checkout another user owns (a shared one, a container's
    # mount), and the suite runs this checkout's code anyway
    git = ["git", "-c", f"safe.directory={REPO}", "-c", "core.autocrlf=true"]
    command = [*git, "archive", "--format=zip", "--worktree-attributes", "HEAD"]
    archive = subprocess.run(
        [*command, "android_demo/prepare_model.sh"], cwd=REPO, capture_output=True, check=True
    )
    with zipfile.ZipFile(io.BytesIO(archive.stdout)) as checkout:
        checkout.extractall(tmp_path / "checkout")
    script = tmp_path / "checkout" / "android_demo" / "prepare_model.sh"
    result = _run(fake_export, "--help", script=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Export the int8 ExecuTorch model and copy it")
