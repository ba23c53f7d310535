"""The app's ExecuTorch calls, compiled against the executorch-android 1.5.1 API and driven
through every way the runtime refuses a model.

No Android SDK or AAR is available offline, so `executorch_api/` holds stand-ins with the Java
signatures of org.pytorch:executorch-android 1.5.1 (Module.kt, Tensor.kt, EValue.java): in 1.5
`Module.loadMethod` returns nothing and throws, where it used to return an error code. A call
written against another release's API fails to compile here, as it would in Gradle. The facts a
.pte embeds are constant methods: `Module.getMethods()` names them, `Module.execute(name)` with no
inputs runs one, and the JNI layer hands its string output back as `EValue.from(String)`
(`isString`, `toStr`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAND_INS = Path(__file__).resolve().parent / "executorch_api"
APP = REPO / "android_demo" / "app" / "src" / "main" / "java" / "org" / "melanoma" / "demo"
USES_EXECUTORCH = ["ExecuTorchClassifier.java", "ModelLoadException.java"]


@pytest.fixture(scope="module")
def check_output(tmp_path_factory) -> dict[str, list[str]]:
    """ClassifierCheck's line for each scripted failure: {fail_at: fields}."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.fail("javac/java not found: apt-get install -y default-jdk-headless")
    out = tmp_path_factory.mktemp("executorch_api")
    sources = sorted(map(str, STAND_INS.rglob("*.java"))) + [str(APP / f) for f in USES_EXECUTORCH]
    sources += sorted(map(str, (APP / "core").glob("*.java")))  # EmbeddedFacts and its types
    javac = subprocess.run(
        ["javac", "-Xlint:all", "-Werror", "-encoding", "UTF-8", "-d", str(out), *sources],
        capture_output=True,
        text=True,
    )
    assert javac.returncode == 0, javac.stderr
    run = subprocess.run(
        ["java", "-cp", str(out), "org.melanoma.demo.ClassifierCheck"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.split("\t")[0]: line.split("\t")[1:] for line in run.stdout.splitlines()}


def test_a_model_that_loads_runs_one_nchw_image_to_one_logit(check_output):
    assert check_output["none"] == ["loaded", "0.25", "[1, 3, 32, 32]", "{}"]


def test_the_facts_a_file_embeds_are_read_from_its_constant_methods(check_output):
    """Module.getMethods names them, Module.execute(name) runs each (no inputs) to one string
    EValue, read with toStr. Only the keys the app checks; a file without them has none ({})."""
    assert check_output["facts"] == [
        "loaded",
        "0.25",
        "[1, 3, 32, 32]",
        "{license=CC-BY-NC-4.0, source_checkpoint_sha256=3f3f, precision=int8}",
    ]


@pytest.mark.parametrize(
    ("fail_at", "message"),
    [
        ("load", "ExecuTorch could not load model_int8.pte: [ExecuTorch Error 0x22]"),
        (
            "loadMethod",
            "ExecuTorch could not load the forward method of model_int8.pte: "
            "[ExecuTorch Error 0x12] Failed to load method: forward",
        ),
        ("forward", "the model loaded but does not run on a 1x3x32x32 input"),
        ("two", "the model loaded but does not run on a 1x3x32x32 input: the model returned 2"),
        (
            "oom-load",
            "ExecuTorch could not load model_int8.pte: not enough memory (std::bad_alloc)",
        ),
        (
            "oom-forward",
            "the model loaded but does not run on a 1x3x32x32 input: "
            "not enough memory (std::bad_alloc)",
        ),
        (
            "execute",
            "ExecuTorch could not read the terms embedded in model_int8.pte: "
            "[ExecuTorch Error 0x1] Execution failed for method: license",
        ),
        (
            "oom-execute",
            "ExecuTorch could not read the terms embedded in model_int8.pte: "
            "not enough memory (std::bad_alloc)",
        ),
        (
            "tensor-fact",
            "ExecuTorch could not read the terms embedded in model_int8.pte: "
            "its method precision does not return one string",
        ),
    ],
)
def test_a_refused_model_is_a_model_load_exception_and_the_module_is_freed(
    check_output, fail_at, message
):
    """ModelHolder rolls back to the last good model on ModelLoadException only: an unchecked
    runtime exception escaping load() would end its worker thread, and the app. So would the
    OutOfMemoryError that fbjni throws for a native std::bad_alloc."""
    status, model_at_fault, freed, text = check_output[fail_at]
    assert (status, model_at_fault, freed) == ("refused", "true", "true")
    assert text.startswith(message)
