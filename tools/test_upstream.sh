#!/usr/bin/env bash
# Run RecBole 1.2.1's own test suite (../shared/recbole-tests, unchanged) under our compatibility
# layer: copy it into a temporary folder, add tools/upstream_conftest.py as conftest.py, run pytest.
# Usage: tools/test_upstream.sh [--ci] PYTHON RECBOLE_TESTS_DIR [TEST ...]
#   TEST: pytest node ids relative to the copy (default: the selection of docs/compatibility.md).
#   --ci: leave out the slowest model tests (SLOW below), so that CI stays short on 2 cores.
set -euo pipefail
# DIN and DIEN have no full-ranking predict: RecBole scores every item one by one (minutes each).
SLOW=(
    "tests/model/test_model_auto.py::TestSequentialRecommender::test_din"
    "tests/model/test_model_auto.py::TestSequentialRecommender::test_dien"
)
deselect=()
if [[ "${1:-}" == "--ci" ]]; then
    for test in "${SLOW[@]}"; do deselect+=(--deselect "$test"); done
    shift
fi
if [[ $# -lt 2 ]]; then
    echo "usage: $0 [--ci] PYTHON RECBOLE_TESTS_DIR [TEST ...]" >&2
    exit 2
fi
python="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
source_dir="$2"
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -d "$source_dir/tests" ]]; then
    echo "error: $source_dir/tests not found; pass RECBOLE_TESTS=DIR holding RecBole v1.2.1's tests/" >&2
    exit 2
fi
selection=("$@")
if [[ ${#selection[@]} -eq 0 ]]; then
    selection=(
        tests/data
        tests/config/test_config.py
        tests/metrics
        tests/evaluation_setting
        "tests/model/test_model_auto.py::TestSequentialRecommender"
        "tests/model/test_model_manual.py::TestSequentialRecommender"
    )
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/recbole-upstream.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$source_dir/tests" "$work/tests"
cp "$here/tools/upstream_conftest.py" "$work/conftest.py"
cd "$work"
# RecBole's configs use data_path: tests/test_data/ (relative to the working directory).
"$python" -m pytest -q -p no:cacheprovider --durations=20 --rootdir="$work" "${deselect[@]}" "${selection[@]}"
