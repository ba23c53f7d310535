"""The Android app's preprocessing, manifest parsing and risk bands, checked against Python.

Python writes a golden dir: real test images and large photo-like images as lossless PNG (some
with transparency), the tensors Python makes from them (melanoma.images.decode_rgb, which
composites transparency onto white, then melanoma.preprocess), Pillow's compositing of every
(value, alpha) pair, an exporter manifest with its artifact, and the
manifests and messages Python rejects, and JPEG/PNG files cut at many lengths with Python's verdict
on each. `android_demo/jvm-tests.sh` then runs the app's own Java classes on the desktop JVM
against it (PreprocessorParityTest, ExportedManifestTest, CompleteImageParityTest) together with
the plain JUnit tests. A missing JDK or JUnit fails here; it never skips.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from melanoma.images import decode_rgb
from melanoma.manifest import manifest_path, read_manifest
from melanoma.preprocess import (
    crop_and_resize,
    image_to_input,
    normalize,
    square_crop_box,
)

REPO = Path(__file__).resolve().parents[2]
JVM_TESTS = REPO / "android_demo" / "jvm-tests.sh"
CASES_HEADER = "name\timage\twidth\theight\tcrop\ttop\tleft\tside\texpected"
REAL_TEST_IDX = [0, 1, 150, 299, 300, 301, 450, 599]  # test/ is sorted: 0..299 are melanoma
INSTALL_HINT = "install a JDK and JUnit 4: apt-get install -y default-jdk-headless junit4"


@dataclass(frozen=True)
class Case:
    name: str
    pixels: np.ndarray  # (H, W, 3) uint8 RGB, or (H, W, 4) RGBA with unpremultiplied colour
    box: tuple[int, int, int] | None  # (top, left, side); None means the centred square


def _read_jpg(archive: zipfile.ZipFile, member: str) -> np.ndarray:
    with Image.open(io.BytesIO(archive.read(member))) as img:
        return np.asarray(img.convert("RGB"))


def _test_image(archive: zipfile.ZipFile, idx: int) -> np.ndarray:
    label = 1 if idx < 300 else 0
    return _read_jpg(archive, f"MelanomaDetection/test/{idx}_{label}.jpg")


def _photo_like(base: np.ndarray, width: int, height: int, seed: int) -> np.ndarray:
    """A deterministic stand-in for a phone photo: a real lesion upscaled (bicubic) plus noise."""
    up = Image.fromarray(base).resize((width, height), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(seed).normal(0.0, 4.0, size=(height, width, 3))
    return np.clip(np.rint(np.asarray(up, np.float64) + noise), 0, 255).astype(np.uint8)


def _cases(archive: zipfile.ZipFile) -> list[Case]:
    cases = [Case(f"real_test_{idx}", _test_image(archive, idx), None) for idx in REAL_TEST_IDX]
    landscape = _photo_like(_test_image(archive, 7), 640, 480, seed=1)
    big = _photo_like(_test_image(archive, 42), 3000, 4000, seed=3)
    cases += [
        Case("landscape_640x480", landscape, None),
        Case("portrait_480x640", _photo_like(_test_image(archive, 320), 480, 640, seed=2), None),
        Case("photo_3000x4000", big, None),
        Case("landscape_1333x1000", _photo_like(_test_image(archive, 77), 1333, 1000, 4), None),
        Case("odd_97x131", _photo_like(_test_image(archive, 500), 97, 131, seed=5), None),
        Case("near_min_45x33", _photo_like(_test_image(archive, 210), 45, 33, seed=6), None),
        Case("min_side_32x50", _photo_like(_test_image(archive, 410), 32, 50, seed=7), None),
        # Boxes the user moved onto the lesion: off-centre, and one at the far corner.
        Case("box_640x480_offcentre", landscape, (17, 301, 151)),
        Case("box_640x480_corner_min", landscape, (448, 608, 32)),
        Case("box_3000x4000_offcentre", big, (1234, 567, 1777)),
        # Refused: the square crop would need upsampling.
        Case("too_small_20x30", _photo_like(_test_image(archive, 3), 20, 30, seed=8), None),
        Case("too_small_200x31", _photo_like(_test_image(archive, 303), 200, 31, seed=9), None),
        Case("box_too_small", landscape, (100, 100, 31)),
    ]
    return cases + _alpha_cases(archive)


def _with_alpha(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.dstack([rgb, alpha.astype(np.uint8)])


def _alpha_cases(archive: zipfile.ZipFile) -> list[Case]:
    """Images with transparency, which Python composites onto white before anything else."""
    rng = np.random.default_rng(10)
    half = _test_image(archive, 0)  # a melanoma, half transparent: the audit's 0.12 vs 0.87 image
    # A cut-out: an opaque lesion disc with a soft edge on a fully transparent border, with
    # random colour hidden under the transparency (Pillow ignores it; so must the app).
    h, w = 260, 300
    lesion = _photo_like(_test_image(archive, 120), w, h, seed=11)
    yy, xx = np.mgrid[:h, :w]
    radius = np.hypot(yy - h / 2, xx - w / 2)
    disc = np.clip((100.0 - radius) * 64, 0, 255)  # opaque inside, a 4 px ramp, 0 outside
    hidden = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    cutout = np.where((disc > 0)[..., None], lesion, hidden)
    # Every alpha value, at random, over a photo-like image.
    noisy = _photo_like(_test_image(archive, 330), 200, 150, seed=12)
    return [
        Case("alpha_half_real_test_0", _with_alpha(half, np.full(half.shape[:2], 128)), None),
        Case("alpha_cutout_300x260", _with_alpha(cutout, disc), None),
        Case("alpha_cutout_box_border", _with_alpha(cutout, disc), (0, 0, 120)),
        Case("alpha_random_200x150", _with_alpha(noisy, rng.integers(0, 256, (150, 200))), None),
        Case("alpha_all_pairs_256x256", _all_pairs(), None),
    ]


def _all_pairs() -> np.ndarray:
    """(256, 256, 4) RGBA: row a has alpha a; column v has R = v, G = 255 - v, B = v + 128."""
    alpha, value = np.mgrid[:256, :256]
    return np.dstack([value, 255 - value, (value + 128) % 256, alpha]).astype(np.uint8)


def _write_alpha_table(golden: Path) -> None:
    """Python's compositing onto white of every (value, alpha) pair, for an exact check."""
    png = golden / "alpha_all_pairs.png"
    Image.fromarray(_all_pairs(), "RGBA").save(png, format="PNG")
    composited = decode_rgb(png.read_bytes(), png.name)  # the real path: Pillow alpha_composite
    assert composited.shape == (256, 256, 3)
    (golden / "alpha_all_pairs_on_white.rgb").write_bytes(composited.tobytes())


def _expected(rgb: np.ndarray, box, mean: list[float], std: list[float]) -> np.ndarray:
    """The model input melanoma.preprocess makes, (1, 3, 32, 32) float32."""
    if box is None:
        tensor = image_to_input(rgb, mean, std)
    else:  # image_to_input with an explicit box, step for step
        resized = crop_and_resize(rgb, box)
        chw = torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1)))
        tensor = normalize(chw.unsqueeze(0), mean, std)
    assert tensor.shape == (1, 3, 32, 32) and tensor.dtype == torch.float32
    return tensor.numpy()


def _python_refusal(rgb: np.ndarray, box) -> str | None:
    """Python's error message if it refuses the case, else None."""
    try:
        crop_and_resize(rgb, box)
    except ValueError as err:
        return str(err)
    return None


def _write_cases(golden: Path, cases: list[Case], mean: list[float], std: list[float]) -> None:
    (golden / "images").mkdir()
    (golden / "tensors").mkdir()
    rows = [CASES_HEADER]
    for case in cases:
        height, width = case.pixels.shape[:2]
        image = f"images/{case.name}.png"
        Image.fromarray(case.pixels).save(golden / image, format="PNG", compress_level=1)
        # Python's decoding of that file: compositing onto white for the RGBA cases.
        rgb = decode_rgb((golden / image).read_bytes(), image)
        top, left, side = case.box or square_crop_box(height, width)
        refusal = _python_refusal(rgb, case.box)
        if refusal is not None:
            expected = f"error: {refusal}"
        else:
            expected = f"tensors/{case.name}.f32"
            _expected(rgb, case.box, mean, std).astype("<f4").tofile(golden / expected)
        crop = "center" if case.box is None else "box"
        rows.append(
            f"{case.name}\t{image}\t{width}\t{height}\t{crop}\t{top}\t{left}\t{side}\t{expected}"
        )
    (golden / "cases.tsv").write_text("\n".join(rows) + "\n")


def _band_label(index: int, n_thresholds: int) -> str:
    if index == 0:
        return "low"
    if index == n_thresholds:
        return "high"
    return "intermediate" if n_thresholds == 2 else f"intermediate {index}"


def _write_manifest_checks(golden: Path, manifest_file: Path) -> None:
    """What Java must read from the manifest, and the bands Python's rule gives."""
    m = read_manifest(manifest_file)
    p = m.preprocessing
    expect = {
        "schema_version": str(m.schema_version),
        "model_name": m.model_name,
        "target": m.target,
        "precision": m.precision,
        "positive_class": m.output.positive_class,
        "size": str(p.size),
        "min_side": str(p.min_side),
        "mean": ",".join(repr(float(v)) for v in p.mean),
        "std": ",".join(repr(float(v)) for v in p.std),
        "thresholds": _threshold_list((t.name, t.probability) for t in m.thresholds),
        "license": m.license,
        "attribution": m.attribution,
    }
    lines = ["key\tvalue"] + [f"{k}\t{v}" for k, v in expect.items()]
    (golden / "manifest_expect.tsv").write_text("\n".join(lines) + "\n")

    # The exported model's thresholds, and the bundled reference models': in both of these
    # youden lies BELOW sensitivity_0.90, the opposite of the usual order, so both orders are
    # checked whatever the quick test model's thresholds come out as.
    sets = {"manifest": [float(t.probability) for t in m.thresholds]}
    for ref in ("supervised", "sgan"):
        meta = json.loads((REPO / "melanoma" / "reference" / ref / "metadata.json").read_text())
        named = [(t["name"], t["probability"]) for t in meta["thresholds"]]
        sets[_threshold_list(named)] = [float(prob) for _, prob in named]
    rows = ["thresholds\tprobability\tindex\tlabel"]
    for key, thresholds in sets.items():
        cuts = sorted(thresholds)
        probs = {0.0, 1.0, 0.5}
        for cut in cuts:
            probs |= {cut, math.nextafter(cut, -math.inf), math.nextafter(cut, math.inf)}
        probs |= {(a + b) / 2 for a, b in zip(cuts, cuts[1:], strict=False)}
        for prob in sorted(v for v in probs if 0.0 <= v <= 1.0):
            index = sum(cut <= prob for cut in cuts)  # thresholds at or below p
            rows.append(f"{key}\t{prob!r}\t{index}\t{_band_label(index, len(cuts))}")
    (golden / "bands.tsv").write_text("\n".join(rows) + "\n")


def _threshold_list(named) -> str:
    """name=probability,... in the given order, as Java reads it back."""
    return ",".join(f"{name}={float(prob)!r}" for name, prob in named)


@pytest.fixture(scope="session")
def exported_manifest(exported) -> Path:
    """THE manifest the JVM tests read: written by the real exporter (shared_models.py's
    `exported`) for the int8 ExecuTorch artifact, which sits beside it."""
    return manifest_path(exported["executorch", "int8"].artifact)


@pytest.fixture(scope="session")
def golden_dir(
    tmp_path_factory, exported_manifest, data_zip, write_manifest_goldens, write_cut_goldens
) -> Path:
    """Everything jvm-tests.sh needs, written by the Python side."""
    golden = tmp_path_factory.mktemp("golden")
    model = golden / "model"
    model.mkdir()
    manifest = read_manifest(exported_manifest)
    shutil.copy2(exported_manifest, model / exported_manifest.name)
    shutil.copy2(exported_manifest.parent / manifest.file.name, model / manifest.file.name)
    mean, std = manifest.preprocessing.mean, manifest.preprocessing.std
    with zipfile.ZipFile(data_zip) as archive:
        cases = _cases(archive)
        write_cut_goldens(golden, Image.fromarray(_test_image(archive, 5)), archive)
    _write_cases(golden, cases, mean, std)
    _write_alpha_table(golden)
    _write_manifest_checks(golden, exported_manifest)
    write_manifest_goldens(golden, exported_manifest)
    return golden


def _run_jvm_tests(golden: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.fail(f"javac/java not found: {INSTALL_HINT}")
    result = subprocess.run(
        ["bash", str(JVM_TESTS), str(golden)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    if result.returncode == 3:  # jvm-tests.sh: toolchain missing
        pytest.fail(f"{result.stderr}\n{INSTALL_HINT}")
    return result


def test_java_matches_python_preprocessing_and_manifest(golden_dir):
    result = _run_jvm_tests(golden_dir)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"jvm-tests.sh failed:\n{output}"
    assert "OK (" in result.stdout, output  # JUnitCore's summary of a fully green run
    print(output)


def test_jvm_tests_fail_when_one_golden_value_changes(golden_dir, tmp_path):
    """A negative control: one pixel's red value off by one level must be caught."""
    tampered = tmp_path / "golden"
    shutil.copytree(golden_dir, tampered, copy_function=os.symlink)
    target = tampered / "tensors" / f"real_test_{REAL_TEST_IDX[0]}.f32"
    values = np.fromfile(target.resolve(), dtype="<f4")
    prep = read_manifest(next((golden_dir / "model").glob("*.manifest.json"))).preprocessing
    values[0] += np.float32(1 / 255 / prep.std[0])  # pixel (0, 0), red channel, one level up
    target.unlink()
    values.tofile(target)

    result = _run_jvm_tests(tampered)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"jvm-tests.sh passed a tampered golden tensor:\n{output}"
    assert f"real_test_{REAL_TEST_IDX[0]}: max abs diff" in output, output
