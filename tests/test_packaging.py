"""What the wheel and the sdist carry, checked from pyproject.toml and MANIFEST.in without
building either: a build takes seconds and writes an egg-info folder into the checkout."""

import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.specifiers import SpecifierSet
from setuptools.command.egg_info import FileList

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# The oldest Python each pinned dependency ships wheels for, where that is newer than
# what the others need: onnxruntime 1.31 has cp311 to cp314 wheels, none for cp310, so a
# 3.10 install fails to resolve (`uv pip install` on 3.10.13, 2026-12-07).
OLDEST_PYTHON = {"onnxruntime": "3.11"}


def test_requires_python_admits_no_python_a_pinned_dependency_has_no_wheels_for():
    requires = SpecifierSet(PYPROJECT["project"]["requires-python"])
    pinned = {dep.split("=")[0] for dep in PYPROJECT["project"]["dependencies"]}
    for name, oldest in OLDEST_PYTHON.items():
        assert name in pinned
        major, minor = map(int, oldest.split("."))
        assert f"{major}.{minor - 1}" not in requires, f"{name} needs Python >= {oldest}"
    # ruff's pyupgrade rules assume the oldest Python the package installs on
    floor = next(spec.version for spec in requires if spec.operator == ">=")
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + floor.replace(".", "")


def test_license_is_an_spdx_expression_naming_the_weights_licence_and_its_texts_ship():
    project = PYPROJECT["project"]
    # a table ({text = ...}) is deprecated: setuptools stops building it after 2027-02-18
    assert isinstance(project["license"], str)
    assert canonicalize_license_expression(project["license"]) == project["license"]
    # the bundled weights derive from HAM10000 (CC BY-NC 4.0): the metadata says so
    assert "CC-BY-NC-4.0" in project["license"]
    assert all((ROOT / name).is_file() for name in project["license-files"])
    assert any(req.startswith("setuptools>=77") for req in PYPROJECT["build-system"]["requires"])


def test_every_data_file_in_a_package_folder_is_in_its_package_data():
    """A file in a package folder but in no package-data glob is missing from the wheel,
    yet present in a checkout: an editable install would never notice."""
    settings = PYPROJECT["tool"]["setuptools"]
    for package, folder in settings["package-dir"].items():
        folder = ROOT / folder
        data = {
            path
            for path in folder.rglob("*")
            if path.is_file()
            and path.suffix not in {".py", ".pyc"}
            and "__pycache__" not in path.parts
        }
        globs = settings["package-data"].get(package, [])
        packaged = {path for pattern in globs for path in folder.glob(pattern) if path.is_file()}
        assert data == packaged, f"{package}: {sorted(map(str, data - packaged))}"


# Build outputs and the model prepare_model.sh copies in (android_demo/.gitignore)
OUTPUT_FOLDERS = {"__pycache__", "build", ".gradle", ".kotlin"}
APP_MODEL = "android_demo/app/src/main/assets/model/"


def is_output(path: str) -> bool:
    """A build output or generated model, which never ships in the sdist."""
    return bool(OUTPUT_FOLDERS & set(path.split("/"))) or path.startswith(APP_MODEL)


def sdist_files(candidates: list[str]) -> set[str]:
    """Which of `candidates` (paths relative to the root) MANIFEST.in puts in the sdist."""
    files = FileList()
    files.allfiles = candidates
    manifest = ROOT / "MANIFEST.in"
    lines = manifest.read_text().splitlines() if manifest.is_file() else []
    for line in lines:
        if line.strip() and not line.startswith("#"):
            files.process_template_line(line)
    return set(files.files)


def test_the_sdist_carries_the_whole_test_suite_and_the_android_demo_not_its_outputs():
    # setuptools alone ships tests/test*.py: no conftest.py, no tests/export or
    # tests/android, no android_demo, so the suite errors out in an unpacked sdist
    files = [
        path.relative_to(ROOT).as_posix()
        for top in ("tests", "android_demo")
        for path in (ROOT / top).rglob("*")
        if path.is_file() and path.name != "local.properties"
    ]
    sources = [path for path in files if not is_output(path)]
    assert "tests/conftest.py" in sources
    outputs = [
        "tests/__pycache__/conftest.cpython-311.pyc",
        "android_demo/.gradle/8.9/fileHashes/fileHashes.bin",
        "android_demo/app/build/outputs/apk/debug/app-debug.apk",
        APP_MODEL + "model.pte",
        "android_demo/local.properties",
    ]
    assert sdist_files(sources + outputs) == set(sources)
