#!/usr/bin/env bash
# Compile the app's plain-Java core (org.melanoma.demo.core) and every JUnit 4 test under
# app/src/test/java with javac, run them with JUnitCore on the desktop JVM, and exit 0 only if
# all pass. No Android SDK or Gradle needed.
#
#   bash android_demo/jvm-tests.sh GOLDEN_DIR
#
# GOLDEN_DIR is written by tests/android/test_jvm_parity.py (Python preprocessing outputs and an
# exporter manifest); the parity tests fail, never skip, when it is missing or incomplete.
#
# Needs: javac/java (JDK 11+) and JUnit 4 + Hamcrest. On Debian:
#   apt-get install -y default-jdk-headless junit4
# or point JUNIT_JAR and HAMCREST_JAR at the jars.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ $# -ne 1 ]]; then
    echo "usage: $0 GOLDEN_DIR" >&2
    exit 2
fi
golden="$(cd "$1" 2>/dev/null && pwd)" || {
    echo "jvm-tests: golden dir '$1' does not exist" >&2
    exit 2
}

missing() {
    echo "jvm-tests: $1 not found. Install a JDK and JUnit 4, e.g." >&2
    echo "    apt-get install -y default-jdk-headless junit4" >&2
    exit 3
}

first_file() {
    for candidate in "$@"; do
        if [[ -n "$candidate" && -f "$candidate" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

command -v javac >/dev/null || missing "javac"
command -v java >/dev/null || missing "java"
junit="$(first_file "${JUNIT_JAR:-}" /usr/share/java/junit4.jar \
    "$HOME/.m2/repository/junit/junit/4.13.2/junit-4.13.2.jar")" || missing "JUnit 4 jar"
hamcrest="$(first_file "${HAMCREST_JAR:-}" /usr/share/java/hamcrest-core.jar \
    /usr/share/java/hamcrest.jar \
    "$HOME/.m2/repository/org/hamcrest/hamcrest-core/1.3/hamcrest-core-1.3.jar")" \
    || missing "Hamcrest jar"

main_src="$here/app/src/main/java"
test_src="$here/app/src/test/java"
core_dir="$main_src/org/melanoma/demo/core"

# The core must stay plain Java: it is the code the app runs and the code tested here.
if grep -rlE '^import +android(x)?\.' "$core_dir"; then
    echo "jvm-tests: the files above import android.*; org.melanoma.demo.core must be plain Java" >&2
    exit 1
fi

# Outside the source tree: a read-only checkout still runs the tests, and none leave files.
out="$(mktemp -d "${TMPDIR:-/tmp}/jvm-tests.XXXXXX")"
trap 'rm -rf "$out"' EXIT

# --release 8: the core may only use Java 8 library APIs, which Android (minSdk 26) provides.
# -Xlint:-options: JDK 20+ warns that release 8 is obsolete, which -Werror would make fatal.
javac --release 8 -Xlint:all -Xlint:-options -Werror -encoding UTF-8 -d "$out/main" \
    $(find "$core_dir" -name '*.java' | sort)
javac -Xlint:all -encoding UTF-8 -cp "$out/main:$junit:$hamcrest" -d "$out/test" \
    $(find "$test_src" -name '*.java' | sort)

tests=()
while IFS= read -r file; do
    rel="${file#"$test_src"/}"
    tests+=("$(echo "${rel%.java}" | tr / .)")
done < <(find "$test_src" -name '*Test.java' | sort)

echo "jvm-tests: ${#tests[@]} test classes, golden dir $golden"
status=0
java ${JAVA_OPTS:--Xmx1g} -Dfile.encoding=UTF-8 \
    -Dmelanoma.golden="$golden" -Dmelanoma.golden.required=true \
    -cp "$out/main:$out/test:$junit:$hamcrest" \
    org.junit.runner.JUnitCore "${tests[@]}" || status=$?
if [[ $status -ne 0 ]]; then
    echo "jvm-tests: FAILED (JUnit exit code $status)"
else
    echo "jvm-tests: all tests passed"
fi
exit "$status"
