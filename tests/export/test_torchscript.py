"""TorchScript .ptl: lite interpreter round trip, Android-readable bytecode, no fake int8."""

from pathlib import Path

import pytest
import torch
from torch.jit.mobile import _get_model_bytecode_version

from melanoma.export import torchscript
from melanoma.export.base import ArtifactLabel


def test_round_trip_in_lite_interpreter(exported, assert_round_trip):
    result = exported["torchscript", "fp32"]
    assert result.status == "passed"
    assert "lite interpreter" in result.manifest.verification.runtime
    assert_round_trip(torchscript, result.artifact, "fp32")


def test_bytecode_readable_by_pytorch_android_lite_1_13(exported):
    result = exported["torchscript", "fp32"]
    version = _get_model_bytecode_version(str(result.artifact))
    assert version <= torchscript.MAX_BYTECODE_VERSION == 8
    info = result.manifest.target_info
    assert info["bytecode_version"] == version
    assert info["max_bytecode_version_android"] == 9  # what 1.13.1's loader accepts
    # which path ran, as this torch allows: not a claim of optimize_for_mobile without XNNPACK
    ran = "optimize_for_mobile" if torch._C._is_xnnpack_enabled() else "frozen scripted module"
    assert info["path"].startswith(ran)
    assert "aten::conv2d" in info["operators"] and not any(
        "batch_norm" in op for op in info["operators"]
    )


def test_the_file_names_no_path_of_the_machine_that_exported_it(exported):
    """The scripted code's source ranges named every Python file by absolute path."""
    import zipfile

    import melanoma

    artifact = exported["torchscript", "fp32"].artifact
    install_dir = str(Path(melanoma.__path__[0]).parent).encode()
    with zipfile.ZipFile(artifact) as archive:
        assert not [n for n in archive.namelist() if n.endswith(".debug_pkl")]
        assert not [n for n in archive.namelist() if install_dir in archive.read(n)]
    from torch.jit.mobile import _load_for_lite_interpreter

    x = torch.randn(2, 3, 32, 32)  # the full JIT loader reads it too, as the same model
    assert torch.equal(
        torch.jit.load(str(artifact))(x), _load_for_lite_interpreter(str(artifact))(x)
    )


def test_int8_is_not_offered(exported):
    result = exported["torchscript", "int8"]
    assert result.status == "not offered" and result.artifact is None
    assert "not int8 kernels" in result.note
    out_dir = exported["torchscript", "fp32"].artifact.parent
    assert not list(out_dir.glob("*torchscript-int8*"))
    assert "not offered" in exported["torchscript", "fp32"].manifest.target_info["int8"]
    with pytest.raises(ValueError, match="int8"):
        torchscript.export(torch.nn.Identity(), (), out_dir / "x.ptl", "int8")


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_set_torch_pool(exported, threads):
    """The benchmark times each thread count it is given, not always one thread."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3 - threads)  # not already `threads` (OMP_NUM_THREADS=1, one core)
        torchscript.load(exported["torchscript", "fp32"].artifact, threads=threads)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def test_the_file_carries_its_manifests_terms_and_origin(exported, manifest_facts):
    """A .ptl copied into an app without its manifest still states its licence and source,
    as extra files (PyTorch Mobile's LiteModuleLoader.load(path, extraFiles, device))."""
    result = exported["torchscript", "fp32"]
    expected = manifest_facts(result)
    extra_files = dict.fromkeys(expected, "")
    torch.jit.load(str(result.artifact), _extra_files=extra_files)
    assert {key: value.decode() for key, value in extra_files.items()} == expected
    assert torchscript.embedded(result.artifact) == expected


def test_each_export_of_a_model_has_the_same_bytes(run_console_script, export_source, tmp_path):
    """Re-exporting must not change the file's sha256 (the atomic temp path's random name
    once named the folder inside the archive). One fresh process per export: TorchScript
    numbers the classes it compiles within a process."""
    import hashlib

    digests = []
    for out in (tmp_path / "a", tmp_path / "b"):
        run_console_script("melanoma-export", "--target", "torchscript", "--quantize", "none",
                           "--checkpoint", export_source, "--out", out, check=True)  # fmt: skip
        digests.append(hashlib.sha256((out / "quick-cnn-torchscript-fp32.ptl").read_bytes()))
    assert digests[0].hexdigest() == digests[1].hexdigest()


def test_backport_to_an_older_bytecode_leaves_one_loadable_file(monkeypatch, tmp_path):
    """The branch torch 2.13 never takes (it writes bytecode 8, the newest in a zip archive)."""
    from torch.jit.mobile import _load_for_lite_interpreter

    from melanoma.model import CNNConfig, SmallCNN, example_inputs

    monkeypatch.setattr(torchscript, "MAX_BYTECODE_VERSION", 7)
    model = SmallCNN(CNNConfig(widths=(4, 8, 8))).eval()
    out = tmp_path / ".m.ptl.tmp"  # as the exporter's atomic temp path
    label = ArtifactLabel("m", "fp32", "CC-BY-NC-4.0", None, "0" * 64, "m.ptl.manifest.json")
    info = torchscript.export(model, example_inputs(2), out, "fp32", label)
    assert (info["bytecode_version_produced"], info["bytecode_version"]) == (8, 7)
    assert torchscript.embedded(out) == label.facts()  # the backport keeps the extra files
    # the runtime's own bound, not the export's target: torch 1.13.1 refuses 10, loads 9
    assert info["max_bytecode_version_android"] == 9
    assert _get_model_bytecode_version(str(out)) == 7
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # its temp folder is gone
    x = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(_load_for_lite_interpreter(str(out))(x), model(x))


def test_an_input_of_another_size_is_refused_not_scored(exported, references):
    """The lite interpreter itself scores a 64x64 or 1-channel batch, with a plausible and
    wrong probability: the runner must refuse it, as the other runners do."""
    runner = torchscript.load(exported["torchscript", "fp32"].artifact)
    photo = references.inputs[:1]
    with pytest.raises(ValueError, match=r"input of shape \(1, 3, 64, 64\); the models take"):
        runner(photo.repeat(2, axis=2).repeat(2, axis=3))
    with pytest.raises(ValueError, match="the models take"):
        runner(photo[:, :1])
