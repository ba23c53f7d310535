"""What the wheel carries, checked from pyproject.toml without building it: a build takes
seconds and writes an egg-info folder into the checkout."""

import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# The oldest Python each pinned dependency ships wheels for, where that is newer than
# what the others need: onnxruntime 1.31 has cp311 to cp314 wheels, none for cp310, so a
# 3.10 install fails to resolve (`uv pip install` on 3.10.13, 2026-12-07).
OLDEST_PYTHON = {"onnxruntime": "3.11"}

# A dependency's release the code fails with and the oldest it passes with, where its
# floor once admitted the first: the floors installed (`uv pip install -e ".[dev]"
# --resolution lowest-direct`, uv 0.13.9, 2026-12-07), then the tests that use them.
# Pillow 10.4.0: images.py's read of a PNG tile's .args raised AttributeError on a
# transparent key colour (8 tests of test_images.py failed; with 11.0.0 all passed).
# numpy 1.26.4 does not install beside executorch 1.5.1 (numpy>=2.0.0), and the tests
# call np.trapezoid, new in numpy 2.
# click 8.1.0 and 8.1.8: a bare `melanoma` exits 0 with its help on stdout, not 2 on stderr
# (test_cli.py's test_bare_group_still_shows_help; with 8.2.0 the tests of CLI files passed).
FAILS_AND_PASSES = {
    "pillow": ("10.4.0", "11.0.0"), "numpy": ("1.26.4", "2.0.0"), "click": ("8.1.8", "8.2.0"),
}  # fmt: skip


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
    # the licence texts ship in the wheel's dist-info, through license-files
    licences = {ROOT / name for name in PYPROJECT["project"]["license-files"]}
    for package, folder in settings["package-dir"].items():
        folder = ROOT / folder
        data = {
            path
            for path in folder.rglob("*")
            if path.is_file()
            and path.suffix not in {".py", ".pyc"}
            and "__pycache__" not in path.parts
            and path not in licences
            and path.name != ".gitattributes"  # git's checkout settings, not package data
        }
        globs = settings["package-data"].get(package, [])
        packaged = {path for pattern in globs for path in folder.glob(pattern) if path.is_file()}
        assert data == packaged, f"{package}: {sorted(map(str, data - packaged))}"


def _has_upper_bound(requirement: Requirement) -> bool:
    """`==` (a version or a wildcard), `~=`, `<` or `<=`: what keeps a new major out."""
    return any(spec.operator in {"==", "===", "~=", "<", "<="} for spec in requirement.specifier)


def test_every_dependency_has_an_upper_bound_so_a_new_major_cannot_change_a_fresh_install():
    """An open-ended `>=` lets numpy 3 or pytest 10 into the README's install on a day
    nobody changed the repository, and the install or the tests may fail then."""
    project = PYPROJECT["project"]
    declared = [
        *project["dependencies"],
        *(dep for extra in project["optional-dependencies"].values() for dep in extra),
        *PYPROJECT["build-system"]["requires"],
    ]
    open_ended = [dep for dep in declared if not _has_upper_bound(Requirement(dep))]
    assert open_ended == [], f"give these an upper bound or a pin: {open_ended}"


def test_no_dependency_floor_admits_a_release_the_code_was_seen_to_fail_with():
    specifiers = {
        Requirement(dep).name: Requirement(dep).specifier
        for dep in PYPROJECT["project"]["dependencies"]
    }
    for name, (fails, passes) in FAILS_AND_PASSES.items():
        assert fails not in specifiers[name], f"{name} {fails} fails the tests: raise its floor"
        assert passes in specifiers[name]


def test_ruff_sorts_the_helper_modules_on_pytests_path_as_local_imports():
    """tests/android/golden_images.py is imported by name through pytest's pythonpath; ruff,
    not told, filed `from golden_images import ...` among the third-party imports."""
    helpers = {
        module.stem
        for folder in PYPROJECT["tool"]["pytest"]["ini_options"]["pythonpath"]
        for module in (ROOT / folder).glob("*.py")
        if module.stem != "conftest" and not module.stem.startswith("test_")  # not imported
    }
    assert "golden_images" in helpers  # the glob finds what conftest.py imports
    isort = PYPROJECT["tool"]["ruff"]["lint"]["isort"]
    assert helpers <= set(isort.get("known-local-folder", []))
