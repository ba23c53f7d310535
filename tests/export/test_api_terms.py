"""Every manifest states the terms its weights carry, from the checkpoint's training data."""

from __future__ import annotations

import json

import pytest

from melanoma.export import api
from melanoma.export.cli import terms_line
from melanoma.manifest import read_manifest
from melanoma.train import TrainConfig, train_supervised
from melanoma.usage_terms import HAM10000


@pytest.mark.parametrize("name", ["reference-supervised", "reference-sgan"])
def test_a_bundled_models_manifests_say_it_is_non_commercial(name, tmp_path):
    """fp32 from the weights, int8 from the bundled qat/ program: both carry the terms."""
    config = api.ExportConfig(targets=("onnx",), checkpoint=name, out_dir=tmp_path)
    results = api.export_checkpoint(config)
    assert [r.precision for r in results] == ["fp32", "int8"]
    for result in results:
        manifest = read_manifest(result.artifact.with_name(result.artifact.name + ".manifest.json"))
        assert manifest.schema_version == 6
        assert manifest.license == "CC-BY-NC-4.0" == HAM10000.license
        assert manifest.attribution == HAM10000.attribution


def test_a_model_trained_on_unknown_data_says_its_terms_were_not_stated(forty_labeled, tmp_path):
    """40 of the real images are another data set to the fingerprint: the toolkit cannot
    know their licence, and does not claim one."""
    ckpt = tmp_path / "forty"
    train_supervised(
        forty_labeled, TrainConfig(epochs=1, folds=2, batch_size=8, progress=False), ckpt
    )
    recorded = json.loads((ckpt / "metadata.json").read_text())
    assert (recorded["license"], recorded["attribution"]) == ("not stated", None)
    config = api.ExportConfig(
        targets=("torchscript",), checkpoint=str(ckpt), quantize="none", out_dir=tmp_path / "out"
    )
    (result,) = api.export_checkpoint(config)
    manifest = read_manifest(result.artifact.with_name(result.artifact.name + ".manifest.json"))
    assert (manifest.license, manifest.attribution) == ("not stated", None)
    # what melanoma-export prints under its table
    assert terms_line(manifest).startswith("licence: not stated in the manifests (training data")
