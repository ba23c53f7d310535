"""Imports follow the data flow (README, Architecture): checked in fresh interpreters,
since one test process has every module loaded already."""

import subprocess
import sys

import pytest

TRAINING_STACK = ("melanoma.training", "melanoma.train", "melanoma.train_sgan", "melanoma.qat")


def _loaded_after(module: str, watched: tuple[str, ...]) -> list[str]:
    code = f"import sys, {module}; print(' '.join(m for m in {watched!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    "reader",
    ["melanoma.benchmarks.harness", "melanoma.export.api", "melanoma.evaluate", "melanoma.predict"],
)
def test_readers_of_checkpoints_and_artifacts_do_not_import_the_trainers(reader):
    assert _loaded_after(reader, TRAINING_STACK) == []


def test_the_core_does_not_import_the_exporters_or_the_benchmark():
    core = (
        "melanoma.cli, melanoma.compare, melanoma.qat, melanoma.evaluate, melanoma.predict, "
        "melanoma.nested_cv"
    )
    assert _loaded_after(core, ("melanoma.export", "melanoma.benchmarks")) == []


def _readme_python_blocks() -> list[str]:
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    return [part.split("```", 1)[0] for part in readme.split("```python\n")[1:]]


def _bound_calls(code: str) -> set[str]:
    """Run the imports of `code`; bind every call of an imported name to its signature
    (argument count and keyword names); return the names checked."""
    import ast
    import inspect

    tree = ast.parse(code)
    names: dict = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            exec(compile(ast.Module([node], []), "README", "exec"), names)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    checked = {call.func.id for call in calls if call.func.id in names}
    for call in calls:
        if call.func.id in names:
            keywords = {k.arg: None for k in call.keywords if k.arg is not None}  # not **spread
            inspect.signature(names[call.func.id]).bind(*call.args, **keywords)
    return checked


def test_the_readme_python_examples_name_what_the_api_has():
    """Running them trains or fine-tunes for minutes, so they are checked, not run: the
    pipeline of From Python, the QAT settings study, and which pool images QAT distils on."""
    pipeline, qat_study, qat_pool = (_bound_calls(code) for code in _readme_python_blocks())
    assert {"train_supervised", "export_checkpoint", "benchmark", "BenchConfig"} <= pipeline
    assert {"qat_finetune", "QATConfig", "program_probs", "predict_probs"} <= qat_study
    assert {"load_dataset", "load_checkpoint", "load_qat", "program_probs"} <= qat_pool


@pytest.mark.parametrize(
    "command", ["melanoma.cli", "melanoma.export.cli", "melanoma.benchmarks.cli"]
)
def test_help_and_version_do_not_import_torch(command):
    """Importing torch and the runtimes took `melanoma-export --help` and every --version
    5 s and 770 MB; a command that needs them imports them when it runs."""
    for flag in ("--help", "--version"):
        code = (
            f"import sys\nfrom {command} import main\nsys.argv = ['cmd', {flag!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.stdout.splitlines()[-1] == "False", (flag, result.stderr)
