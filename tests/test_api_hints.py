"""The CLIs are a thin layer over a typed Python API: every public function of the installed
packages (melanoma, melanoma.export, melanoma.benchmarks) annotates each parameter and its
return, read from the source with ast, so nothing is imported or run."""

import ast
import importlib
import importlib.util
import pkgutil
from pathlib import Path

PACKAGES = ("melanoma", "melanoma.export", "melanoma.benchmarks")
# "module:function" or "module:Class.method" -> why it cannot be typed. None so far: add
# one only with the reason, never to silence a function that simply lacks hints.
EXEMPT: dict[str, str] = {}


def _public_functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef]]:
    """(qualified name, node) of every module-level function and every method of a module-level
    class, both public (no leading underscore; dunders count as private)."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            found += [
                (f"{node.name}.{item.name}", item)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
    return [(name, fn) for name, fn in found if not fn.name.startswith("_")]


def _missing(name: str, fn: ast.FunctionDef) -> list[str]:
    """The parameters without an annotation ('->' for the return); a method's self/cls
    needs none."""
    args = fn.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    if "." in name and params and params[0].arg in ("self", "cls"):
        params = params[1:]
    params += [p for p in (args.vararg, args.kwarg) if p is not None]
    missing = [p.arg for p in params if p.annotation is None]
    return missing + (["->"] if fn.returns is None else [])


def _unannotated(source: str, module: str) -> list[str]:
    return [
        f"{module}:{name} {missing}"
        for name, fn in _public_functions(ast.parse(source))
        if (missing := _missing(name, fn)) and f"{module}:{name}" not in EXEMPT
    ]


def _installed_modules() -> dict[str, Path]:
    """module name -> the source file `import` would load (export/ and benchmarks/ install
    under melanoma/, wherever the checkout puts them); nothing but the packages is imported."""
    modules = {}
    for package in PACKAGES:
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            name = f"{package}.{info.name}"
            if not info.ispkg and name not in modules:
                modules[name] = Path(importlib.util.find_spec(name).origin)
    return modules


def test_every_public_function_of_the_installed_packages_is_annotated():
    modules = _installed_modules()
    assert {"melanoma.cli", "melanoma.export.api", "melanoma.benchmarks.api"} <= set(modules)
    unannotated = [
        line
        for module, path in modules.items()
        for line in _unannotated(path.read_text(encoding="utf-8"), module)
    ]
    assert not unannotated, "public functions without type hints:\n" + "\n".join(unannotated)


def test_the_check_names_each_missing_annotation_and_skips_private_code():
    source = (
        "def ok(a: int, *rest: str, flag: bool = False, **extra: int) -> None: ...\n"
        "def bare(a, b: int, *rest, **extra): ...\n"
        "def _private(a): ...\n"
        "class Public:\n"
        "    def method(self, x) -> int: ...\n"
        "    @classmethod\n"
        "    def make(cls) -> 'Public': ...\n"
        "    def __init__(self, x): ...\n"
        "class _Hidden:\n"
        "    def method(self, x): ...\n"
    )
    assert _unannotated(source, "m") == [
        "m:bare ['a', 'rest', 'extra', '->']",
        "m:Public.method ['x']",
    ]
    # a module-level function whose first parameter is called self still needs its hint
    assert _unannotated("def f(self) -> None: ...\n", "m") == ["m:f ['self']"]
