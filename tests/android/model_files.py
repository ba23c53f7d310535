"""The model pairs the model-holder runs install: a stand-in .pte (the ExecuTorch stand-in
does not read it) and a real manifest that verifies against it."""

from __future__ import annotations

import dataclasses
from pathlib import Path


def write_model(folder: Path, name: str, build_manifest) -> None:
    """A verified model pair named `name` in `folder`, as the exporter writes it."""
    folder.mkdir(parents=True)
    pte = folder / f"{name}-executorch-int8.pte"
    pte.write_bytes(name.encode() * 64)
    manifest = build_manifest(pte, [0.74, 0.53, 0.56], [0.15, 0.18, 0.2])
    manifest = dataclasses.replace(manifest, model_name=name)
    (folder / f"{pte.name}.manifest.json").write_text(manifest.to_json())
