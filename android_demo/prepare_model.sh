#!/usr/bin/env bash
# Export the int8 ExecuTorch model and copy it, with its manifest, into the app's assets
# (app/src/main/assets/model/), where the app finds it on first run.
#
#   android_demo/prepare_model.sh [more melanoma-export options, e.g. --checkpoint reference-sgan]
#
# Runs `melanoma-export --target executorch --quantize int8 --out <temp dir> "$@"`, expects
# exactly one <model>-executorch-int8.pte with its .pte.manifest.json there, verifies the pair
# with melanoma.manifest.verify_artifact (schema + sha256), then replaces the assets' model
# (copied beside it first, so a failed copy keeps the previous one).
# Environment: PYTHON (default python3), MELANOMA_EXPORT (default melanoma-export),
# ASSETS_DIR (default app/src/main/assets/model next to this script).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
assets="${ASSETS_DIR:-$here/app/src/main/assets/model}"
python="${PYTHON:-python3}"
exporter="${MELANOMA_EXPORT:-melanoma-export}"

# These three are the script's own: the exporter keeps the last of a repeated option, so a
# user's --out, --target or --quantize would silently send the .pte elsewhere or skip it.
for arg in "$@"; do
    case "$arg" in
        -h | --help)  # the exporter's own help would print, then "found 0" .pte files
            sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        --out | --out=* | --target | --target=* | --quantize | --quantize=*)
            echo "prepare_model: ${arg%%=*} is set by this script (an int8 ExecuTorch export" \
                "into a temporary folder, copied into $assets); give the other options" >&2
            exit 2
            ;;
    esac
done

# Checked before the export, which takes tens of seconds, rather than after it.
if [[ -e "$assets" && ! -d "$assets" ]]; then
    echo "prepare_model: ASSETS_DIR $assets exists and is not a folder" >&2
    exit 2
fi
if ! command -v "$exporter" >/dev/null; then
    echo "prepare_model: $exporter not found (activate the venv, or set MELANOMA_EXPORT)" >&2
    exit 2
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

"$exporter" --target executorch --quantize int8 --out "$out" "$@"

shopt -s nullglob
ptes=("$out"/*-executorch-int8.pte)
if [[ ${#ptes[@]} -ne 1 ]]; then
    echo "prepare_model: expected one *-executorch-int8.pte in the export, found ${#ptes[@]}" >&2
    exit 1
fi
pte="${ptes[0]}"
manifest="$pte.manifest.json"
if [[ ! -f "$manifest" ]]; then
    echo "prepare_model: $(basename "$pte") has no manifest ($(basename "$manifest"))" >&2
    exit 1
fi

"$python" - "$manifest" "$(basename "$pte")" <<'PY'
import sys
from pathlib import Path

from melanoma.manifest import ManifestError, verify_artifact

try:
    manifest, artifact = verify_artifact(Path(sys.argv[1]))
except ManifestError as err:
    sys.exit(f"prepare_model: {err}")
if artifact.name != sys.argv[2] or manifest.target != "executorch":
    sys.exit(f"prepare_model: the manifest describes {manifest.file.name} ({manifest.target})")
print(f"prepare_model: verified {artifact.name}: {manifest.model_name}, {manifest.precision}, "
      f"{manifest.file.size_bytes} bytes")
PY

# Copy into a hidden folder beside the model first (aapt skips dot folders) and compare, so
# that a failed copy (a full disk) leaves the previous model in place, not half a new one.
mkdir -p "$assets"
staging="$(mktemp -d "$assets/.incoming.XXXXXX")"
trap 'rm -rf "$out" "$staging"' EXIT
cp "$pte" "$manifest" "$staging/"
for f in "$pte" "$manifest"; do
    if ! cmp -s "$f" "$staging/$(basename "$f")"; then
        echo "prepare_model: copying $(basename "$f") into $assets failed; the model there is unchanged" >&2
        exit 1
    fi
done
rm -f "$assets"/*.pte "$assets"/*.manifest.json
mv "$staging"/* "$assets/"
echo "prepare_model: copied $(basename "$pte") and its manifest to $assets"
