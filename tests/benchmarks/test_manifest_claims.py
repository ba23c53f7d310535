"""A manifest that claims what its artifact does not do is ❎, with the field named.

Each case is the real exporter's manifest with a field edited, as someone editing the
JSON beside an untouched artifact would leave it: the sha256 still matches, so only
these checks stand between the edit and the app.
"""

import pytest

from melanoma.checkpoint import read_meta
from melanoma.export.contract import INT8_SCHEME
from melanoma.validation_scores import target_threshold

ONNX = "quick-cnn-onnx-fp32.onnx"
ONNX_INT8 = "quick-cnn-onnx-int8.onnx"
PTE = "quick-cnn-executorch-fp32.pte"
PTE_INT8 = "quick-cnn-executorch-int8.pte"
COREML = "quick-cnn-coreml-fp32.mlpackage"
COREML_INT8 = "quick-cnn-coreml-int8.mlpackage"


def failed_with(subject, *starts: str) -> None:
    assert subject.status == "failed"
    for start in starts:
        assert any(reason.startswith(start) for reason in subject.reasons), subject.reasons


CONTRACT = "(what the exporter writes for this checkpoint)"


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("preprocessing.scale", 1.0, "manifest preprocessing.scale 1, expected 0.00392157"),
        ("preprocessing.color", "BGR", 'manifest preprocessing.color "BGR", expected "RGB"'),
        ("preprocessing.resize", "bilinear", 'manifest preprocessing.resize "bilinear", expected'),
        # a min_side below size no reader takes (manifest.py refuses it as the app does)
        ("preprocessing.size", 16, "manifest preprocessing.size 16, expected 32"),
        ("preprocessing.min_side", 64, "manifest preprocessing.min_side 64, expected 32"),
        ("preprocessing.steps", ["decode", "resize"], 'manifest preprocessing.steps ["decode"'),
        ("input.shape", ["N", 3, 64, 64], 'manifest input.shape ["N", 3, 64, 64], expected ["N"'),
        ("input.layout", "NHWC", 'manifest input.layout "NHWC", expected "NCHW"'),
        ("input.dtype", "uint8", 'manifest input.dtype "uint8", expected "float32"'),
        ("input.name", "x", 'manifest input.name "x", expected "input"'),
        ("output.kind", "probability", 'manifest output.kind "probability", expected "logit"'),
        ("output.activation", "none", 'manifest output.activation "none", expected "sigmoid"'),
        ("output.shape", ["N"], 'manifest output.shape ["N"], expected ["N", 1]'),
        ("method", "sgan", "manifest method 'sgan', expected 'supervised' (the checkpoint's)"),
        ("file.size_bytes", 1, "manifest file.size_bytes 1, file has "),
        ("verification.passed", False, "export verification failed ("),
        ("license", "MIT", 'manifest license "MIT", expected "CC-BY-NC-4.0" (the checkpoint\'s)'),
        ("attribution", None, 'manifest attribution null, expected "Trained on HAM10000: '),
    ],
)
def test_contract_field_edited_is_failed(bench_edited, setting, field, value, reason):
    subject = bench_edited(ONNX, setting(field, value))
    failed_with(subject, reason)
    assert all(CONTRACT in r for r in subject.reasons if r.startswith("manifest input"))


def test_a_file_embedding_another_licence_than_its_manifest_is_failed(bench_edited, artifacts_copy):
    """The licence inside the file is what whoever copies only the file reads: a file
    re-labelled "MIT", its manifest's sha256 and size updated to match, is ❎."""
    import onnx

    from melanoma.manifest import sha256_of, size_of

    path = artifacts_copy / ONNX
    model = onnx.load(str(path))
    next(p for p in model.metadata_props if p.key == "license").value = "MIT"
    onnx.save(model, str(path))

    def matching_file(data):
        data["file"]["sha256"], data["file"]["size_bytes"] = sha256_of(path), size_of(path)

    subject = bench_edited(ONNX, matching_file)
    failed_with(subject, 'file embeds license "MIT", its manifest states "CC-BY-NC-4.0"')
    assert len(subject.reasons) == 1, subject.reasons  # the manifest itself is the checkpoint's


def test_a_file_exported_before_files_embedded_their_licence_is_not_failed_for_it(
    bench_edited, artifacts_copy
):
    """A .onnx of 2026-12-06 or earlier embeds nothing: its manifest states the licence, and
    there is nothing in the file to contradict it."""
    import onnx

    from melanoma.manifest import sha256_of, size_of

    path = artifacts_copy / ONNX
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.save(model, str(path))

    def matching_file(data):
        data["file"]["sha256"], data["file"]["size_bytes"] = sha256_of(path), size_of(path)

    subject = bench_edited(ONNX, matching_file)
    assert subject.status == "verified", subject.reasons


def test_one_step_reworded_is_failed_naming_that_step_only(bench_edited):
    """As an artifact exported before a step's sentence was corrected reads: the reason
    names the one sentence that changed and says to re-export, not all nine."""

    def reword_step_3(data):
        steps = data["preprocessing"]["steps"]
        steps[3] = steps[3].replace("grey is copied to", "grey is spread over")

    subject = bench_edited(ONNX, reword_step_3)
    steps = [r for r in subject.reasons if r.startswith("manifest preprocessing.steps")]
    assert steps == [
        'manifest preprocessing.steps[3] "color RGB, 8 bits: grey is spread over R, G and B; '
        'a palette is...", expected "color RGB, 8 bits: grey is copied to R, G and B; a '
        'palette is..." '
        "(what this version's exporter writes; an artifact exported by an earlier version "
        "states the steps as they were worded then: re-export it)"
    ]


def to_version_5(data):
    """Version 5 had no license or attribution."""
    data["schema_version"] = 5
    del data["license"], data["attribution"]


def to_version_4(data):
    """Version 4 had no preprocessing.steps."""
    to_version_5(data)
    data["schema_version"] = 4
    del data["preprocessing"]["steps"]


def to_version_3(data):
    """Version 3 had no int8 input_range or logit_range, nor default_threshold."""
    to_version_4(data)
    data["schema_version"] = 3
    del data["quantization"]["input_range"], data["quantization"]["logit_range"]
    del data["default_threshold"]


def to_version_1(data):
    """Version 1 had none of the fields versions 2-6 added."""
    to_version_3(data)
    data["schema_version"] = 1
    del data["preprocessing"]["exif_orientation"], data["preprocessing"]["alpha"]
    del data["preprocessing"]["color_profile"], data["verification"]["float_decision_agreement"]


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_an_older_manifest_states_less_and_still_passes(bench_edited, version):
    """A field its version did not have is not stated, not wrong."""

    def to_version_2(data):
        to_version_3(data)
        data["schema_version"] = 2
        del data["preprocessing"]["color_profile"]

    older = {1: to_version_1, 2: to_version_2, 3: to_version_3, 4: to_version_4, 5: to_version_5}
    older = older[version]
    for name in (ONNX, ONNX_INT8):
        subject = bench_edited(name, older)
        assert subject.status == "verified", (name, subject.reasons)


@pytest.mark.parametrize(
    "name, max_batch, reason",
    [
        (PTE, 1024, "manifest input.max_batch 1024, but a batch of 1024 is refused (RuntimeError"),
        (PTE_INT8, None, "manifest input.max_batch null (any N), but a batch of 129 is refused"),
        (PTE, 64, "manifest input.max_batch 64, but a batch of 65 runs too"),
        (ONNX, 128, "manifest input.max_batch 128, but a batch of 129 runs too"),
        (ONNX, 10**6, "manifest input.max_batch 1000000: more rows than the benchmark tries"),
    ],
)
def test_max_batch_the_runtime_does_not_keep_is_failed(
    bench_edited, setting, capfd, name, max_batch, reason
):
    subject = bench_edited(name, setting("input.max_batch", max_batch))
    failed_with(subject, reason)
    assert len(subject.reasons) == 1
    # ExecuTorch's native lines about the refused batch go to the log, not the terminal.
    assert "Attempted to resize" not in capfd.readouterr().err


@pytest.mark.parametrize(
    "name, max_batch, reason",
    [
        (COREML, 64, "manifest input.max_batch 64, but the file declares 128"),
        (COREML_INT8, None, "manifest input.max_batch null (any N), but the file declares 128"),
    ],
)
def test_max_batch_a_core_ml_package_does_not_declare_is_failed_off_macos(
    bench_edited, setting, name, max_batch, reason
):
    """No Core ML here to probe a batch with: the bound the package's spec declares is
    what the manifest must state."""
    assert bench_edited(name, lambda data: None).status == "not_runnable"
    failed_with(bench_edited(name, setting("input.max_batch", max_batch)), reason)


def test_version_1_manifest_that_states_max_batch_is_held_to_it(bench_edited, setting):
    """Version 1 need not state input.max_batch; one that does is probed like any other."""

    def version_1_claiming_64(data):
        to_version_1(data)
        setting("input.max_batch", 64)(data)

    subject = bench_edited(PTE, version_1_claiming_64)
    failed_with(subject, "manifest input.max_batch 64, but a batch of 65 runs too")


def test_version_1_manifest_without_max_batch_is_not_probed(bench_edited):
    def early_version_1(data):
        to_version_1(data)
        del data["input"]["max_batch"], data["quantization"]["program_sha256"]

    assert bench_edited(PTE_INT8, early_version_1).status == "verified"
    assert bench_edited(COREML_INT8, early_version_1).status == "not_runnable"


@pytest.mark.parametrize(
    "name, field, value, reason",
    [
        (ONNX_INT8, "program_sha256", "0" * 64, 'manifest quantization.program_sha256 "000'),
        (
            ONNX_INT8,
            "scheme",
            "none",
            f'manifest quantization.scheme "none", expected "{INT8_SCHEME}',
        ),
        (PTE_INT8, "per_channel", False, "manifest quantization.per_channel false, expected true"),
        (
            ONNX,
            "scheme",
            INT8_SCHEME,
            f'manifest quantization.scheme "{INT8_SCHEME}", expected "none',
        ),
        (ONNX, "program_sha256", "0" * 64, 'manifest quantization.program_sha256 "000'),
        (
            PTE_INT8,
            "input_range",
            [-9.0, 9.0],
            "manifest quantization.input_range [-9, 9], expected [",
        ),
        (
            ONNX_INT8,
            "logit_range",
            [-6.0, 6.0],
            "manifest quantization.logit_range [-6, 6], expected [",
        ),
    ],
)
def test_quantization_edited_is_failed(bench_edited, setting, name, field, value, reason):
    failed_with(bench_edited(name, setting(f"quantization.{field}", value)), reason)


def test_int8_ranges_stated_exactly_by_earlier_exports_still_pass(bench_edited, export_source):
    """Exports before 2026-12-04 stated the ranges' exact edges; later ones round outward."""
    from melanoma.pt2e import exact_int8_ranges
    from melanoma.qat_checkpoint import load_qat

    exact = exact_int8_ranges(load_qat(export_source / "qat").program)

    def unrounded(data):
        data["quantization"]["input_range"], data["quantization"]["logit_range"] = exact

    subject = bench_edited(PTE_INT8, unrounded)
    assert subject.status == "verified", subject.reasons


def test_qat_flag_must_be_the_programs(bench_edited, export_source):
    """The test's int8 program is calibration only (0 epochs): qat must say false."""
    assert read_meta(export_source / "qat").epochs == 0

    def flip(data):
        data["quantization"]["qat"] = not data["quantization"]["qat"]

    subject = bench_edited(PTE_INT8, flip)
    failed_with(subject, "manifest quantization.qat true, expected false (the int8 program in ")


def test_an_int8_manifest_that_names_no_program_is_failed(bench_edited, setting):
    """program_sha256 may be null only in schema versions that did not require it."""
    subject = bench_edited(ONNX_INT8, setting("quantization.program_sha256", None))
    failed_with(subject, 'manifest quantization.program_sha256 null, expected "')


def test_precision_neither_fp32_nor_int8_is_failed(bench_edited, setting):
    subject = bench_edited(ONNX, setting("precision", "int4"))
    failed_with(subject, "manifest precision 'int4', expected 'fp32' or 'int8'")


def _add_threshold(name, probability, sensitivity=0.99, specificity=0.1):
    def edit(data):
        data["thresholds"].append(
            {
                "name": name,
                "probability": probability,
                "val_sensitivity": sensitivity,
                "val_specificity": specificity,
            }
        )

    return edit


def test_threshold_the_checkpoint_never_chose_is_failed(bench_edited, checkpoint):
    expected = target_threshold(checkpoint, 0.99).probability
    subject = bench_edited(ONNX, _add_threshold("sensitivity_0.99", 0.01))
    failed_with(
        subject,
        "manifest threshold sensitivity_0.99 probability 0.01 differs from the one re-derived "
        f"from the checkpoint's kept validation predictions {expected:.6g}",
    )


@pytest.mark.parametrize("target", [0.99, 1.0])  # 1.0 too: the exporter takes [0.5, 1]
def test_threshold_re_derived_as_the_exporter_adds_it_passes(bench_edited, checkpoint, target):
    choice = target_threshold(checkpoint, target)
    add = _add_threshold(choice.name, choice.probability, choice.sensitivity, choice.specificity)
    subject = bench_edited(ONNX, add)
    assert subject.status == "verified", subject.reasons


@pytest.mark.parametrize(
    "name, reason",
    [
        ("favourite", "manifest threshold favourite: the checkpoint stores no such threshold, and"),
        ("sensitivity_0.990", "manifest threshold sensitivity_0.990: the exporter names the"),
    ],
)
def test_threshold_the_exporter_never_writes_is_failed(bench_edited, name, reason):
    failed_with(bench_edited(ONNX, _add_threshold(name, 0.2)), reason)


def test_stored_threshold_dropped_or_its_figures_edited_is_failed(bench_edited, checkpoint):
    other = next(t["name"] for t in checkpoint.meta.thresholds if t["name"] != "youden")

    def edit(data):
        data["thresholds"] = [t for t in data["thresholds"] if t["name"] != other]
        data["thresholds"][0]["val_sensitivity"] = 0.5
        data["thresholds"][0]["val_specificity"] = 0.25

    subject = bench_edited(ONNX, edit)
    failed_with(
        subject,
        f"manifest has no threshold {other!r}, which the checkpoint stores",
        "manifest threshold youden val_sensitivity 0.5 differs from the checkpoint's",
        "manifest threshold youden val_specificity 0.25 differs from the checkpoint's",
    )


def test_a_precision_the_target_does_not_offer_is_failed_not_a_crash(bench_edited, artifacts_dir):
    """TorchScript has no int8: an int8 claim there has no tolerance to hold the file to."""
    import json

    int8 = json.loads((artifacts_dir / f"{PTE_INT8}.manifest.json").read_text())

    def claim_int8(data):
        data.update(precision="int8", quantization=int8["quantization"])

    subject = bench_edited("quick-cnn-torchscript-fp32.ptl", claim_int8)
    failed_with(subject, "manifest precision 'int8', but torchscript offers fp32")
