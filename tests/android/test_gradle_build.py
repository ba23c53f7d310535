"""The app's Gradle build against the exporter: the runtime it ships must load the .pte."""

import re
from importlib import metadata
from pathlib import Path

from melanoma.export.executorch import runtime_compatibility

APP_BUILD = Path(__file__).resolve().parents[2] / "android_demo" / "app" / "build.gradle.kts"


def test_app_ships_the_executorch_runtime_the_exporter_writes_for():
    """A .pte has no forward compatibility: an AAR older than the exporter may refuse it,
    so the app pins the very release the manifest says the file was checked in."""
    (aar,) = re.findall(r'"org\.pytorch:executorch-android:([\d.]+)"', APP_BUILD.read_text())
    exporter = metadata.version("executorch")
    assert aar == exporter
    assert f"checked here in the {aar} runtime" in runtime_compatibility(exporter)
