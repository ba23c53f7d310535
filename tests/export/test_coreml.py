"""Core ML: the saved package's spec (names, types, input shapes, int8 weights); macOS runs it."""

import platform
import sys

import coremltools as ct
import pytest

from melanoma.export import coreml
from melanoma.export.base import ArtifactLabel, ExportError, NotRunnableHere
from melanoma.pt2e import MAX_BATCH


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_saved_spec_has_the_contract(exported, precision):
    result = exported["coreml", precision]
    assert result.artifact.is_dir()
    spec = ct.utils.load_spec(str(result.artifact))
    (inp,), (out,) = spec.description.input, spec.description.output
    assert (inp.name, out.name) == ("input", "logit")
    ranges = [(r.lowerBound, r.upperBound) for r in inp.type.multiArrayType.shapeRange.sizeRanges]
    assert ranges[0][0] == 1 and ranges[1:] == [(3, 3), (32, 32), (32, 32)]
    float32 = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
    assert inp.type.multiArrayType.dataType == out.type.multiArrayType.dataType == float32
    assert result.manifest.target_info["deployment_target"] == "iOS17"
    # the warning coremltools prints only with -v, kept in the manifest: newer torch, untested
    assert result.manifest.target_info["converter_tested_up_to_torch"] == "2.7.0"


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_package_files_and_folders_have_the_modes_new_ones_get(exported, tmp_path, precision):
    """coremltools left model.mlmodel 0600 and weights/ 0700: unreadable to an app build run
    by another user. Folders get what a new folder gets."""
    (tmp_path / "plain").write_bytes(b"")
    (tmp_path / "folder").mkdir()
    plain = {False: (tmp_path / "plain").stat().st_mode & 0o777}
    plain[True] = (tmp_path / "folder").stat().st_mode & 0o777
    package = exported["coreml", precision].artifact
    paths = [package, *package.rglob("*")]
    assert package / "Data" / "com.apple.CoreML" / "weights" in paths
    modes = {p.as_posix(): p.stat().st_mode & 0o777 for p in paths}
    assert modes == {p.as_posix(): plain[p.is_dir()] for p in paths}


def test_int8_package_holds_int8_weights_and_activation_quantization(exported):
    ops = exported["coreml", "int8"].manifest.target_info["ops"]
    assert ops["constexpr_affine_dequantize"] >= 7  # 6 convs + the linear
    assert ops["quantize"] >= 1
    assert "quantize" not in exported["coreml", "fp32"].manifest.target_info["ops"]
    with pytest.raises(ExportError, match="int8"):
        coreml.check_spec(exported["coreml", "fp32"].artifact, "int8")


def test_fp32_package_computes_in_float32_and_int8_in_float16_between_quantized_ops(exported):
    fp32, int8 = exported["coreml", "fp32"].manifest, exported["coreml", "int8"].manifest
    assert fp32.target_info["compute_precision"] == "float32"
    assert "cast" not in fp32.target_info["ops"]  # fp16 compute would bracket ops with casts
    assert int8.target_info["compute_precision"] == "float16"
    with pytest.raises(ExportError, match="float16"):  # the fp32 check catches fp16 compute
        coreml.check_spec(exported["coreml", "int8"].artifact, "fp32")


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_runs_where_core_ml_exists(exported, assert_round_trip, precision):
    result = exported["coreml", precision]
    check = result.manifest.verification
    if platform.system() == "Darwin":
        assert check.max_abs_diff is not None and result.status == "passed"
        assert_round_trip(coreml, result.artifact, precision)
    else:
        assert check.check.startswith("spec-only") and check.max_abs_diff is None
        assert check.reference is None and check.n_images == 0  # nothing was compared
        assert check.tolerance is None  # so no tolerance was applied either
        assert result.status == "spec-checked"  # not "passed": no output was compared
        with pytest.raises(NotRunnableHere):
            coreml.load(result.artifact)


def test_conversion_progress_bars_are_dropped_and_the_rest_kept(capsys):
    # ct.convert writes its tqdm bars and any warning to sys.stderr while it runs.
    with coreml._without_progress_bars():
        print("\rRunning MIL default pipeline:  51%|#####     | 48/95 [00:00<00:00]", end="",
              file=sys.stderr)  # fmt: skip
        print("UserWarning: something the user should read", file=sys.stderr)
    assert capsys.readouterr().err == "UserWarning: something the user should read\n"


def test_conversion_output_is_kept_when_conversion_fails(capsys):
    with pytest.raises(ValueError), coreml._without_progress_bars():
        print("ValueError context from coremltools", file=sys.stderr)
        raise ValueError("op not supported")
    assert "ValueError context from coremltools" in capsys.readouterr().err


def test_package_holds_only_what_its_manifest_lists(exported):
    """No ExecuTorch debug-handle map (a profiling aid Core ML never reads) shipped inside."""
    import json

    for precision in ("fp32", "int8"):
        package = exported["coreml", precision].artifact
        items = json.loads((package / "Manifest.json").read_text())["itemInfoEntries"].values()
        listed = {package / "Data" / item["path"] for item in items}
        for path in package.rglob("*"):
            if path.is_file() and path.name != "Manifest.json":
                assert any(path == p or p in path.parents for p in listed), path


def test_int8_weights_without_activation_quantization_fail_the_int8_check(tmp_path):
    """Weight-only int8 (W8A16) runs every activation in float: an "int8" package needs
    both the int8 weights and the activation quantize ops."""
    import coremltools.optimize.coreml as cto

    from melanoma.model import CNNConfig, SmallCNN, example_inputs

    model = SmallCNN(CNNConfig(widths=(4, 8, 8))).eval()
    coreml.export(model, example_inputs(2), tmp_path / "float.mlpackage", "fp32")
    float_package = ct.models.MLModel(str(tmp_path / "float.mlpackage"), skip_model_load=True)
    config = cto.OptimizationConfig(
        global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", weight_threshold=0)
    )
    weight_only = tmp_path / "weight-only.mlpackage"
    cto.linear_quantize_weights(float_package, config).save(str(weight_only))
    ops = coreml._ops(ct.utils.load_spec(str(weight_only)))
    assert ops["constexpr_affine_dequantize"] >= 1 and not ops["quantize"]
    with pytest.raises(ExportError, match="no int8 weights or activation quantize ops"):
        coreml.check_spec(weight_only, "int8")


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_manifest_states_the_batch_range_the_package_declares(exported, precision):
    """input.max_batch is what the app sizes its batches by, and no runtime here can probe
    it: it is read back from the saved package's spec."""
    result = exported["coreml", precision]
    spec = ct.utils.load_spec(str(result.artifact))
    batch = spec.description.input[0].type.multiArrayType.shapeRange.sizeRanges[0]
    assert (batch.lowerBound, batch.upperBound) == (1, result.manifest.input.max_batch)
    assert result.manifest.input.max_batch == MAX_BATCH


def _edited_copy(package, out, edit):
    """A copy of `package` whose spec (model.mlmodel) `edit` has changed."""
    import shutil

    shutil.copytree(package, out)
    model = out / "Data" / "com.apple.CoreML" / "model.mlmodel"
    spec = ct.proto.Model_pb2.Model()
    spec.ParseFromString(model.read_bytes())
    edit(spec.description)
    model.write_bytes(spec.SerializeToString())
    return out


def _no_batch_of_one(description):
    description.input[0].type.multiArrayType.shapeRange.sizeRanges[0].lowerBound = 2


def _float16_output(description):
    float16 = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT16
    description.output[0].type.multiArrayType.dataType = float16


@pytest.mark.parametrize(
    "edit, problem",
    [(_no_batch_of_one, "input shape ranges"), (_float16_output, "not float32")],
)
def test_a_package_refusing_one_image_or_giving_float16_fails_the_spec_check(
    exported, tmp_path, edit, problem
):
    """Off macOS the spec check is all that verifies a package: the app runs one image at a
    time and reads the logit as float32, so either fault must fail the export, not ship."""
    package = _edited_copy(exported["coreml", "fp32"].artifact, tmp_path / "m.mlpackage", edit)
    with pytest.raises(ExportError, match=problem):
        coreml.check_spec(package, "fp32")


def test_a_path_that_holds_no_core_ml_package_is_an_export_error(tmp_path):
    """The benchmark checks the spec of whatever file a manifest names: a missing package or a
    folder without one must be that artifact's failure, named, not a traceback."""
    for path in (tmp_path / "missing.mlpackage", tmp_path):
        with pytest.raises(ExportError, match="not a readable Core ML package"):
            coreml.check_spec(path, "fp32")


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_package_carries_its_manifests_terms_and_origin(exported, manifest_facts, precision):
    """A .mlpackage copied into an app without its manifest still states its licence and
    source, in the spec's metadata, through coremltools' own reader (as saved and reloaded)."""
    result = exported["coreml", precision]
    expected = manifest_facts(result)
    metadata = ct.models.MLModel(str(result.artifact)).get_spec().description.metadata
    assert metadata.license == result.manifest.license
    assert expected["manifest"] in metadata.shortDescription
    assert {key: metadata.userDefined[key] for key in expected} == expected
    assert coreml.embedded(result.artifact) == expected


def test_the_same_model_exports_to_the_same_bytes(tmp_path):
    """coremltools gives each save random item ids, the day and a metadata map in hash
    order: two exports of one model had two sha256s, so a pinned package never matched."""
    from melanoma.manifest import sha256_of
    from melanoma.model import CNNConfig, SmallCNN, example_inputs

    model = SmallCNN(CNNConfig(widths=(4, 8, 8))).eval()
    first, second = tmp_path / "a.mlpackage", tmp_path / "b.mlpackage"
    # its embedded facts too: the spec's metadata map was written in hash order
    label = ArtifactLabel("tiny", "fp32", "CC-BY-NC-4.0", "credit", "0" * 64, "a.manifest.json")
    for package in (first, second):
        coreml.export(model, example_inputs(2), package, "fp32", label)
    assert sha256_of(first) == sha256_of(second)
    spec = ct.utils.load_spec(str(first))  # its Manifest.json still leads to the model
    assert coreml.CONVERSION_DATE not in spec.description.metadata.userDefined
    assert spec.description.metadata.userDefined["com.github.apple.coremltools.version"]
