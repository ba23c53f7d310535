"""What a manifest claims that can be checked before the artifact runs.

The manifest's sha256 covers the artifact, not the manifest, and the app takes
its input shape, pixel scaling, output kind and thresholds from the manifest: an
edited one would mislead the app while its artifact still matched. So each claim
is held against what the exporter writes for this checkpoint
(melanoma.export.contract) or against the checkpoint itself. input.max_batch
depends on the target's runtime and is tried by running (subjects.py).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from melanoma.checkpoint import (
    Checkpoint,
    CheckpointError,
    same_threshold_name,
)
from melanoma.export.contract import (
    FLOAT_QUANTIZATION,
    existing_qat,
    input_contract,
    int8_quantization,
    manifest_thresholds,
)
from melanoma.manifest import (
    Manifest,
    Quantization,
    Threshold,
    Verification,
    must_state,
    size_of,
)
from melanoma.metrics import sensitivity_name, sensitivity_target
from melanoma.qat_checkpoint import QAT_SUBDIR, QATCheckpoint, load_qat

TOLERANCE = 1e-6  # for numbers that went through JSON (mean/std, thresholds)


def manifest_failures(
    manifest: Manifest,
    path: Path,
    checkpoint: Checkpoint,
    threshold_name: str,
    program: Int8Program | None,
) -> list[str]:
    """Every claim of the manifest of the artifact at `path` that the checkpoint or the
    exporter contradicts, one line each naming the field, its value and what was expected.
    `program`: the int8 program an int8 artifact is held to (None for fp32)."""
    failures = verification_failures(manifest.verification)
    if manifest.file.size_bytes != size_of(path):
        failures.append(
            f"manifest file.size_bytes {manifest.file.size_bytes}, file has {size_of(path)}"
        )
    if manifest.method != checkpoint.meta.method:
        failures.append(
            f"manifest method {manifest.method!r}, expected {checkpoint.meta.method!r} "
            "(the checkpoint's)"
        )
    failures += contract_failures(manifest, checkpoint)
    failures += terms_failures(manifest, checkpoint)
    failures += quantization_failures(manifest, program)
    failures += threshold_failures(manifest, checkpoint, threshold_name)
    return failures


def verification_failures(verification: Verification) -> list[str]:
    """`passed` must be what the figures beside it say: a manifest edited to `passed: true`
    over a difference past its own tolerance (or a NaN one) is not a verified export."""
    if not verification.passed:
        return [f"export verification failed ({verification.check})"]
    diff, tolerance = verification.max_abs_diff, verification.tolerance
    if diff is not None and (tolerance is None or not diff <= tolerance):  # NaN too
        return [
            f"manifest verification.passed true, but its max_abs_diff {diff:.3g} is not within "
            f"its tolerance {tolerance}"
        ]
    return []


def contract_failures(manifest: Manifest, checkpoint: Checkpoint) -> list[str]:
    """input (but max_batch), preprocessing and output, field by field, against the exporter's."""
    expected = input_contract(checkpoint.meta.mean, checkpoint.meta.std)
    failures = []
    for part in ("input", "preprocessing", "output"):
        stated, wanted = getattr(manifest, part), getattr(expected, part)
        for field in dataclasses.fields(wanted):
            have, want = getattr(stated, field.name), getattr(wanted, field.name)
            if (part, field.name) == ("input", "max_batch"):
                continue  # the target's: tried by running the artifact
            if have is None and not must_state(type(wanted), field.name, manifest.schema_version):
                continue  # an older manifest that does not state it
            why = STEPS_WHY if (part, field.name) == ("preprocessing", "steps") else CONTRACT_WHY
            failures += [f"{d} {why}" for d in differences(f"{part}.{field.name}", have, want)]
    return failures


def terms_failures(manifest: Manifest, checkpoint: Checkpoint) -> list[str]:
    """license and attribution against the checkpoint's: an edited licence would tell the
    app's developer the model may be used where its training data's licence forbids it."""
    if not must_state(Manifest, "license", manifest.schema_version):
        return []  # before version 6 the manifest does not say
    meta = checkpoint.meta
    return [
        f"manifest {name} {shown(have)}, expected {shown(want)} (the checkpoint's)"
        for name, have, want in (
            ("license", manifest.license, meta.license),
            ("attribution", manifest.attribution, meta.attribution),
        )
        if have != want
    ]


def embedded_license_failures(target: ModuleType, path: Path, manifest: Manifest) -> list[str]:
    """The licence the file itself carries (export/base.py ArtifactLabel), read by its
    format's reader, against its manifest's: whoever copies only the file reads that one.
    Not judged: a file that embeds none (exported before 2026-12-07), a manifest that
    states none (before version 6), a file its reader refuses (the accuracy pass names
    the runtime's refusal)."""
    from melanoma.export.base import RuntimeFailure, read_embedded

    try:
        embedded = read_embedded(target, path).get("license")
    except RuntimeFailure:
        return []
    if embedded is None or manifest.license is None or embedded == manifest.license:
        return []
    return [f"file embeds license {shown(embedded)}, its manifest states {shown(manifest.license)}"]


CONTRACT_WHY = "(what the exporter writes for this checkpoint)"
# The steps' wording is corrected when a sentence is found wrong about decode_rgb; the
# artifact is the same, but an app built from the old sentence would decode differently.
STEPS_WHY = (
    "(what this version's exporter writes; an artifact exported by an earlier version "
    "states the steps as they were worded then: re-export it)"
)


def differences(name: str, have: Any, want: Any) -> list[str]:  # JSON values
    """One line per differing sentence when both are lists of strings of one length, as
    the steps are (the whole list would bury the one changed sentence); else one line."""
    if same(have, want):
        return []
    if _sentences(have) and _sentences(want) and len(have) == len(want):
        return [
            f"manifest {name}[{i}] {json.dumps(h_part)}, expected {json.dumps(w_part)}"
            for i, (h, w) in enumerate(zip(have, want, strict=True))
            if h != w
            for h_part, w_part in [where_they_differ(h, w)]
        ]
    return [f"manifest {name} {shown(have)}, expected {shown(want)}"]


def _sentences(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def where_they_differ(have: str, want: str, context: int = 24) -> tuple[str, str]:
    """The two strings cut at spaces to their differing middle and about `context`
    characters either side, "..." where cut: a step is a few hundred characters and may
    differ by a word."""
    start = len(os.path.commonprefix([have, want]))
    common_end = len(os.path.commonprefix([have[start:][::-1], want[start:][::-1]]))
    cut = have.rfind(" ", 0, max(0, start - context)) + 1

    def middle(text: str) -> str:
        end = text.find(" ", len(text) - common_end + context)
        end = len(text) if end == -1 else end
        return ("..." if cut else "") + text[cut:end] + ("..." if end < len(text) else "")

    return middle(have), middle(want)


def quantization_failures(manifest: Manifest, program: Int8Program | None) -> list[str]:
    """scheme, per_channel, qat and program_sha256 against the precision and the int8 program."""
    if manifest.precision not in ("fp32", "int8"):
        return [f"manifest precision {manifest.precision!r}, expected 'fp32' or 'int8'"]
    if manifest.precision == "fp32":
        expected, source = FLOAT_QUANTIZATION, "an fp32 artifact's"
    elif program is None or program.qat is None:
        # Without the program, the manifest's int8 claims (its sha256, the input and logit
        # ranges the app reads) could only be compared with themselves: not verified.
        return [program.problem if program else "no int8 program to check it against"]
    else:
        expected = int8_quantization(program.qat)
        source = f"the int8 program in {program.qat.path}"
    failures = []
    for field in dataclasses.fields(Quantization):
        have, want = getattr(manifest.quantization, field.name), getattr(expected, field.name)
        if have is None and not must_state(Quantization, field.name, manifest.schema_version):
            continue  # an older manifest that does not state it
        if have != want and not _same_range(have, want):
            failures.append(
                f"manifest quantization.{field.name} {shown(have)}, "
                f"expected {shown(want)} ({source})"
            )
    return failures


def _same_range(have, want) -> bool:
    """Whether `have` is the exact range `want` was rounded outward from: exports before
    2026-12-04 stated the exact edges, later ones round them (melanoma.pt2e)."""
    from melanoma.pt2e import rounded_outward

    if not (isinstance(have, list) and isinstance(want, list) and len(have) == len(want) == 2):
        return False
    return rounded_outward(have) == want


@dataclass(frozen=True)
class Int8Program:
    """The QAT program an int8 artifact is lowered from, or why there is none to hold it to."""

    qat: QATCheckpoint | None
    problem: str | None = None


def int8_program(
    manifest: Manifest,
    path: Path,
    checkpoint: Checkpoint,
    loaded: dict[Path, Int8Program] | None = None,
) -> Int8Program | None:
    """The program the exporter would lower (the checkpoint's qat/, else qat-<model> beside
    the artifact), for an int8 manifest; None for any other. `loaded` (a run's programs by
    folder) lets the int8 artifacts of a run share one load of it."""
    if manifest.precision != "int8":
        return None
    qat_dir = existing_qat(checkpoint.path, path.parent, manifest.model_name)
    if qat_dir is None:
        looked = f"{checkpoint.path / QAT_SUBDIR} or {path.parent / f'qat-{manifest.model_name}'}"
        return Int8Program(None, f"no int8 program to check it against (none in {looked})")
    loaded = {} if loaded is None else loaded
    if qat_dir not in loaded:
        try:
            loaded[qat_dir] = Int8Program(load_qat(qat_dir))
        except CheckpointError as err:  # a broken int8 program fails this row, not the run
            loaded[qat_dir] = Int8Program(
                None, f"int8 program to check it against is unusable: {err}"
            )
    return loaded[qat_dir]


def threshold_failures(
    manifest: Manifest, checkpoint: Checkpoint, threshold_name: str
) -> list[str]:
    """The requested threshold is there, every stored one is there, and each one the manifest
    lists is the checkpoint's, or re-derived exactly as `--target-sensitivity` adds it."""
    failures = []
    names = [t.name for t in manifest.thresholds]
    if not any(same_threshold_name(name, threshold_name) for name in names):
        failures.append(f"manifest has no threshold {threshold_name!r} (has: {', '.join(names)})")
    for stored in checkpoint.meta.thresholds:
        if stored["name"] not in names and not same_threshold_name(stored["name"], threshold_name):
            failures.append(
                f"manifest has no threshold {stored['name']!r}, which the checkpoint stores"
            )
    for threshold in manifest.thresholds:
        failures += _threshold_mismatch(threshold, checkpoint)
    return failures


def _threshold_mismatch(threshold: Threshold, checkpoint: Checkpoint) -> list[str]:
    expected, source = expected_threshold(threshold.name, checkpoint)
    if expected is None:
        return [f"manifest threshold {threshold.name}: {source}"]
    failures = []
    for field in ("probability", "val_sensitivity", "val_specificity"):
        have, want = getattr(threshold, field), getattr(expected, field)
        if abs(have - want) > TOLERANCE:
            failures.append(
                f"manifest threshold {threshold.name} {field} {have:.6g} differs from "
                f"{source} {want:.6g}"
            )
    return failures


def expected_threshold(name: str, checkpoint: Checkpoint) -> tuple[Threshold | None, str]:
    """(the threshold the exporter writes under `name`, where it comes from), or (None, why
    it writes none): the stored one, else the one for a sensitivity target re-chosen on the
    checkpoint's kept validation predictions (export/contract.py manifest_thresholds)."""
    stored = {t.name: t for t in manifest_thresholds(checkpoint, None)}
    if name in stored:
        return stored[name], "the checkpoint's"
    target = sensitivity_target(name)
    if target is None or not 0 < target <= 1:
        return None, "the checkpoint stores no such threshold, and it names no sensitivity target"
    if sensitivity_name(target) != name:
        return None, f"the exporter names the threshold for that target {sensitivity_name(target)}"
    try:
        derived = manifest_thresholds(checkpoint, target)[-1]  # appended: its name is not stored
    except CheckpointError as err:
        return None, f"the checkpoint stores no such threshold and cannot re-derive it ({err})"
    return derived, "the one re-derived from the checkpoint's kept validation predictions"


def same(have: Any, want: Any) -> bool:  # JSON values, compared by their type
    """Equal as JSON values; numbers within TOLERANCE (the manifest went through JSON)."""
    if isinstance(want, float):
        number = type(have) in (int, float)
        return number and math.isclose(have, want, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(map(same, have, want))
    return type(have) is type(want) and have == want


def shown(value: object) -> str:
    """A value as in the manifest's JSON, numbers to 6 significant digits."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(map(shown, value)) + "]"
    return json.dumps(value)
