#!/usr/bin/env bash
# Run RecBole 1.2.1's own test suite (../shared/recbole-tests, unchanged) under our compatibility
# layer: copy it into a temporary folder, add tools/upstream_conftest.py as conftest.py, run pytest.
# Usage: tools/test_upstream.sh [--ci] PYTHON RECBOLE_TESTS_DIR
#   --ci runs the documented CI subset (docs/compatibility.md), otherwise the full selection.
set -euo pipefail
subset=full
if [[ "${1:-}" == "--ci" ]]; then subset=ci; shift; fi
python="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
source_dir=$(realpath "$2")
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -d "$source_dir/tests" ]]; then
    echo "error: $source_dir/tests not found; pass RECBOLE_TESTS=DIR holding RecBole v1.2.1's tests/" >&2
    exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/recbole-upstream.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$source_dir/tests" "$work/tests"
cp "$here/tools/upstream_conftest.py" "$work/conftest.py"
selection=(
    tests/data
    tests/config/test_config.py
    tests/metrics
    tests/evaluation_setting
    "tests/model/test_model_auto.py::TestSequentialRecommender"
    "tests/model/test_model_manual.py::TestSequentialRecommender"
)
cd "$work"
# RecBole's configs use data_path: tests/test_data/ (relative to the working directory).
"$python" -m pytest -q -p no:cacheprovider --durations=15 --rootdir="$work" "${selection[@]}"
