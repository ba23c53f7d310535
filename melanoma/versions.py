"""The versions checkpoints, manifests, reports and --version record, read from the
installed packages' metadata: `--version` printed them after importing torch (5 s)."""

from __future__ import annotations

from importlib import metadata as importlib_metadata

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


def package_versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
