"""What `melanoma-export` offers, apart from the exporters that implement it: its --help
lists these, and importing the exporters (torch and four runtimes) took 5 s and 770 MB."""

from __future__ import annotations

# registry.TARGETS' names, in its order (tests/export/test_registry.py holds them equal)
TARGET_NAMES = ("executorch", "onnx", "coreml", "torchscript")
# The checkpoint exported when none is named. reference-supervised until a
# reference SGAN that beats it is bundled (see the README's results).
DEFAULT_CHECKPOINT = "reference-supervised"
QUANTIZE = {"none": ("fp32",), "int8": ("int8",), "both": ("fp32", "int8")}
N_SYNTHETIC = 32  # stand-ins when no data set is available (fresh install)
