#!/usr/bin/env bash
# Push an exported model to the installed app on a connected device (adb), replacing the
# model it uses. The app checks the pair (schema, size, sha256) on its next start, moves it
# into its private files dir and reports on screen; a rejected pair is left where it is.
#
#   android_demo/push_model.sh path/to/<model>-executorch-int8.pte
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 MODEL.pte   (its MODEL.pte.manifest.json must sit next to it)" >&2
    exit 2
fi
pte="$1"
manifest="$pte.manifest.json"
for f in "$pte" "$manifest"; do
    [[ -f "$f" ]] || { echo "push_model: $f not found" >&2; exit 1; }
done

package=org.melanoma.demo
drop="/sdcard/Android/data/$package/files/model"

adb shell mkdir -p "$drop"
adb shell "rm -f $drop/*.pte $drop/*.manifest.json"
adb push "$pte" "$manifest" "$drop/"
adb shell am force-stop "$package"
adb shell am start -n "$package/.MainActivity"
echo "push_model: pushed $(basename "$pte"); the app shows on screen whether it took it"
