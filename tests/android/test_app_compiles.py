"""The whole app, every .java file under app/src/main/java, compiled with javac -Xlint:all -Werror
against stand-ins for the Android, AndroidX and ExecuTorch classes it calls, and against an R
class generated from its res/ folder, as Gradle would generate it.

No Android SDK or Maven is reachable here, so `android_api/` and `executorch_api/` hold
stand-ins that copy the real signatures (see android_api/README.md); a call the real API does
not have, a checked exception not handled, an id or string renamed in res/ but not in the code
fails this compile as it would fail the Gradle build. Not checked: what the real classes do,
the resources' attributes, and the Gradle/AGP configuration itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
MAIN = HERE.parents[1] / "android_demo/app/src/main"
PACKAGE = "org.melanoma.demo"  # build.gradle.kts: namespace, so R is org.melanoma.demo.R
CHECKS = "layoutcheck"  # the generated check's package
ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
# The JVM tests' drivers (HolderCheck, ClassifierCheck) live beside the stand-ins; not the app.
DRIVERS = "org/melanoma"
# A reference to a resource of the app in XML: "@string/x"; not "@+id/x" nor "@android:...".
REFERENCE = re.compile(r'="@(\w+)/([\w.]+)"')
# A layout tag without a package is an android.widget class, but for these android.view ones.
WIDGETS = {"View": "android.view.View", "ViewStub": "android.view.ViewStub"}
IMPORT = re.compile(r"^import ([\w.]+)\.(\w+);", re.M)
FIND_VIEW = re.compile(r"(\w+) = findViewById\(R\.id\.(\w+)\);")


def resources(res: Path) -> dict[str, set[str]]:
    """R's inner classes and their fields: every @+id in a layout, every named value in
    values*/ (<string> in R.string, ...) and every file in the other folders (R.layout, R.xml)."""
    names: dict[str, set[str]] = {"id": set()}
    for folder in sorted(p for p in res.iterdir() if p.is_dir()):
        kind = folder.name.split("-")[0]  # values-fr, layout-land: the same R class
        for file in sorted(folder.glob("*.xml")):
            if kind == "values":
                for element in ET.parse(file).getroot():
                    # <string>: R.string; <string-array>: R.array; <item type="id">: R.id
                    of_kind = element.get("type") or element.tag.split("-")[-1]
                    names.setdefault(of_kind, set()).add(element.get("name"))
            else:
                names.setdefault(kind, set()).add(file.stem)
                names["id"] |= {
                    value[len("@+id/") :]
                    for element in ET.parse(file).iter()
                    for value in element.attrib.values()
                    if value.startswith("@+id/")
                }
    return {kind: {name.replace(".", "_") for name in found} for kind, found in names.items()}


def r_java(names: dict[str, set[str]]) -> str:
    """The R class. Its fields are not final: AGP 8 compiles the app against non-final ids
    (android.nonFinalResIds, true by default), so a `case R.id.x:` fails in Gradle too."""
    lines = [f"package {PACKAGE};", "", "public final class R {"]
    number = 0x7F000000
    for kind in sorted(names):
        lines.append(f"    public static final class {kind} {{")
        for name in sorted(names[kind]):
            number += 1
            lines.append(f"        public static int {name} = {number:#x};")
        lines.append("    }")
    return "\n".join([*lines, "}", ""])


def view_class(tag: str) -> str:
    """The class LayoutInflater makes for a layout tag (a bare name is an android.widget one)."""
    return tag if "." in tag else WIDGETS.get(tag, f"android.widget.{tag}")


def layout_views(layouts: Path) -> tuple[dict[str, str], set[str]]:
    """{id: the view class the layouts inflate for it}, and the app's own view classes."""
    by_id, custom = {}, set()
    for layout in layouts.glob("*.xml"):
        for element in ET.parse(layout).iter():
            if element.tag.startswith(PACKAGE + "."):
                custom.add(element.tag)
            view_id = element.get(ANDROID_NS + "id", "")
            if view_id.startswith("@+id/"):
                by_id[view_id[len("@+id/") :]] = view_class(element.tag)
    return by_id, custom


def view_check_java(layouts: Path, sources: list[Path]) -> str:
    """A class that passes each view of the layouts where the app puts it: a custom view must
    have the public (Context, AttributeSet) constructor LayoutInflater calls, and a variable
    set to findViewById(R.id.x) must have a type the layout's view x is (else a
    ClassCastException at launch, which no compiler sees in the app's own code)."""
    by_id, custom = layout_views(layouts)
    # Another package, so a constructor that is not public does not compile: LayoutInflater
    # finds it with getConstructor, which sees public ones only.
    lines = [f"package {CHECKS};", "", "final class LayoutViewsCheck {"]
    lines += [
        f"    static Object inflate{i}() {{ return new {tag}((android.content.Context) null,"
        " (android.util.AttributeSet) null); }"
        for i, tag in enumerate(sorted(custom))
    ]
    for source in sources:
        text = source.read_text(encoding="utf-8")
        imports = {name: f"{package}.{name}" for package, name in IMPORT.findall(text)}
        for n, (variable, view_id) in enumerate(FIND_VIEW.findall(text)):
            if view_id not in by_id:
                continue  # not in any layout: R.id has no such field, javac says so
            declared = re.search(rf"\b(\w+) {variable}\b(?= *[;=])", text).group(1)
            declared = imports.get(declared, f"{PACKAGE}.{declared}")
            lines.append(
                f"    static {declared} {source.stem}{n}_{variable}({by_id[view_id]} view)"
                " { return view; }"
            )
    return "\n".join([*lines, "}", ""])


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    """The app, R and the layout check, compiled in one javac run; its output folder."""
    if shutil.which("javac") is None:
        pytest.fail("javac not found: apt-get install -y default-jdk-headless")
    tmp = tmp_path_factory.mktemp("app_compiles")
    app = sorted((MAIN / "java").rglob("*.java"))
    generated = tmp / "src"
    generated.mkdir()
    (generated / "R.java").write_text(r_java(resources(MAIN / "res")))
    (generated / "LayoutViewsCheck.java").write_text(view_check_java(MAIN / "res/layout", app))
    stand_ins = [
        source
        for folder in ("android_api", "executorch_api")
        for source in sorted((HERE / folder).rglob("*.java"))
        if DRIVERS not in source.relative_to(HERE / folder).as_posix()
    ]
    sources = [*stand_ins, *app, *generated.glob("*.java")]
    # --release 11: build.gradle.kts compiles the app as Java 11 (core/ is held to Java 8's APIs,
    # what Android 26 has, by jvm-tests.sh).
    javac = subprocess.run(
        ["javac", "--release", "11", "-Xlint:all", "-Werror", "-encoding", "UTF-8"]
        + ["-d", str(tmp / "classes"), *map(str, sources)],
        capture_output=True,
        text=True,
    )
    assert javac.returncode == 0, javac.stderr
    return tmp / "classes"


def test_every_java_file_of_the_app_compiles_against_the_stand_ins(compiled):
    """MainActivity, CropImageView, ImageLoader and BitmapRowSource were compiled by nothing
    here: a wrong call into ModelHolder or a renamed R.id showed only in a Gradle build."""
    for source in (MAIN / "java").rglob("*.java"):
        relative = source.relative_to(MAIN / "java").with_suffix(".class")
        assert (compiled / relative).is_file(), relative


def test_every_resource_the_xml_names_exists():
    """aapt2 fails the build on an @string/ (or @xml/, @layout/, @id/) that names nothing: a
    string renamed in strings.xml but not in the layout or the manifest."""
    names = resources(MAIN / "res")
    files = [MAIN / "AndroidManifest.xml", *sorted((MAIN / "res").rglob("*.xml"))]
    missing = [
        f"{file.relative_to(MAIN)}: @{kind}/{name}"
        for file in files
        for kind, name in REFERENCE.findall(file.read_text(encoding="utf-8"))
        if name.replace(".", "_") not in names.get(kind, set())
    ]
    assert missing == []


def test_the_manifest_names_classes_the_app_has(compiled):
    """An activity or provider the manifest names but the APK lacks fails at launch."""
    manifest = ET.parse(MAIN / "AndroidManifest.xml").getroot()
    names = [
        element.get(ANDROID_NS + "name")
        for element in manifest.iter()
        if element.tag in ("activity", "provider", "service", "receiver")
    ]
    assert names
    for name in names:
        qualified = PACKAGE + name if name.startswith(".") else name
        class_file = qualified.replace(".", "/") + ".class"
        assert (compiled / class_file).is_file(), f"{name}: no {class_file}"
