"""Every committed benchmark report rebuilds from its JSON (no training) and keeps its findings."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FINDINGS = re.compile(r"<!-- findings -->.*?<!-- /findings -->", re.S)


def load_harness() -> ModuleType:
    """benchmarks/harness.py as a module, without putting benchmarks/ on sys.path."""
    spec = importlib.util.spec_from_file_location("bench_harness", ROOT / "benchmarks/harness.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rebuild(results: Path, *names: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "benchmarks", "report", f"--results={results}"]
    command += list(names) or ["--all"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of benchmarks/results/ after `python -m benchmarks report --all`."""
    copy = tmp_path_factory.mktemp("results") / "results"
    shutil.copytree(RESULTS, copy)
    done = rebuild(copy)
    assert done.returncode == 0, done.stderr
    return copy


def committed_reports() -> list[Path]:
    return sorted(RESULTS.glob("*.md"))


def test_every_committed_report_is_rebuilt_identically(rebuilt: Path) -> None:
    reports = committed_reports()
    assert len(reports) >= 10
    for path in reports:
        again = (rebuilt / path.name).read_text(encoding="utf-8")
        assert again == path.read_text(encoding="utf-8"), f"{path.name} is stale: rebuild it"
        assert FINDINGS.search(again), f"{path.name} has no findings section"


def test_every_committed_png_is_rebuilt(rebuilt: Path) -> None:
    pngs = sorted(RESULTS.glob("*.png"))
    assert pngs
    for path in pngs:
        assert (rebuilt / path.name).stat().st_mtime > path.stat().st_mtime
        assert (rebuilt / path.name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rebuild_keeps_edited_findings_and_regenerates_tables(tmp_path: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(RESULTS, copy)
    report = copy / "suite_ml100k_dsl_converged.md"
    text = report.read_text(encoding="utf-8")
    note = "<!-- findings -->\nA note written by hand, kept by every rebuild.\n<!-- /findings -->"
    table = next(line for line in text.splitlines() if line.startswith("| 0.2 |"))
    report.write_text(FINDINGS.sub(note, text).replace(table, "| stale row |"), encoding="utf-8")
    done = rebuild(copy, "suite_ml100k_dsl_converged")
    assert done.returncode == 0, done.stderr
    again = report.read_text(encoding="utf-8")
    assert note in again
    assert table in again and "stale row" not in again


def test_bad_report_name_is_one_line_error(tmp_path: Path) -> None:
    done = rebuild(tmp_path, "no_such_report")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: no report named no_such_report")


def test_bad_device_is_one_line_error_before_running() -> None:
    command = [sys.executable, "-m", "benchmarks", "run", "speed", "--device=tpu"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --device=tpu is not a device: use --device=cpu or --device=cuda"
    )
    assert "$ " not in done.stdout  # nothing was started


def test_committed_results_quote_no_machine_paths() -> None:
    pattern = re.compile(r"(?<![\w.])/(?:work|tmp|home|root)/")
    for path in sorted(RESULTS.rglob("*")):
        if path.suffix in (".json", ".md"):
            assert not pattern.search(path.read_text(encoding="utf-8")), path.name


def test_scrub_paths_makes_paths_relative_to_the_repository(tmp_path: Path) -> None:
    harness = load_harness()
    root = tmp_path / "repo"
    record = {
        "data_path": str(tmp_path / "shared" / "datasets"),
        "runs": [{"output_dir": str(root / "saved" / "run1")}],
        "site": str(root / ".venv/lib/python3.11/site-packages/recbole/dataset_example"),
        "n": 3,
    }
    clean = harness.scrub_paths(record, root)
    assert clean["data_path"] == "../shared/datasets"
    assert clean["runs"][0]["output_dir"] == "saved/run1"
    assert clean["site"] == "<site-packages>/recbole/dataset_example"
    assert clean["n"] == 3


def test_time_alternating_reports_medians_and_warms_up() -> None:
    harness = load_harness()
    calls = {"a": 0, "b": 0}

    def count(name: str) -> None:
        calls[name] += 1

    medians = harness.time_alternating(
        {"a": lambda: count("a"), "b": lambda: count("b")}, repeats=5, warmup=2
    )
    assert calls == {"a": 7, "b": 7}
    assert set(medians) == {"a", "b"} and all(value >= 0 for value in medians.values())
    with pytest.raises(ValueError, match="repeats"):
        harness.time_alternating({"a": lambda: None}, repeats=0)


def test_merge_by_name_keeps_one_record_a_name_and_never_a_failure_over_a_result() -> None:
    """The one rule every page merges committed and fresh runs by (suites continued, runs
    trained again): a later record replaces an earlier one, a failure never replaces ``ok``."""
    harness = load_harness()
    committed = [
        {"name": "A", "status": "ok", "v": 1},
        {"name": "B", "status": "error"},
        {"name": "C", "status": "ok", "v": 3},
    ]
    fresh = [
        {"name": "C", "status": "error"},
        {"name": "B", "status": "ok", "v": 2},
        {"name": "A", "status": "ok", "v": 4},
        {"name": "D", "status": "error"},
    ]
    merged = harness.merge_by_name(committed, fresh)
    assert [(r["name"], r.get("v")) for r in merged] == [("A", 4), ("B", 2), ("C", 3), ("D", None)]
    assert harness.merge_by_name([{"name": "E", "status": "error", "v": 1}, {"name": "E"}]) == [
        {"name": "E"}
    ]


def test_with_findings_places_the_kept_block_under_the_title() -> None:
    harness = load_harness()
    block = "<!-- findings -->\nkept\n<!-- /findings -->"
    text = harness.with_findings("# Title\n\nbody\n\n\n\nmore\n", block)
    assert text == f"# Title\n\n{block}\n\nbody\n\nmore\n"
    assert harness.findings_of(text) == block


def test_run_writes_json_and_report_without_machine_paths(tmp_path: Path) -> None:
    out = tmp_path / "dsl"
    extra = ["--parts=projection", "--densities=1.0", "--repeats=1", f"--out={out}"]
    command = [sys.executable, "-m", "benchmarks", "run", "dsl_sparse_inference", *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    harness = load_harness()
    data = harness.read_json(out.with_suffix(".json"))
    assert data["rows"] and all(row["density"] == 1.0 for row in data["rows"])
    assert str(tmp_path) not in out.with_suffix(".json").read_text(encoding="utf-8")
    report = out.with_suffix(".md").read_text(encoding="utf-8")
    assert harness.findings_of(report) and "| " in report


def test_benchmarks_readme_lists_every_result_once_with_its_command() -> None:
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 400, "benchmarks/README.md grew far past one page"
    listed = list_benches()
    for path in committed_reports():
        link = f"[{path.stem}](results/{path.name})"
        assert readme.count(link) == 1, f"{path.name} is not listed exactly once"
        if path.stem in listed:
            assert f"python -m benchmarks run {path.stem}`" in readme, path.stem


def list_benches() -> set[str]:
    """Names ``python -m benchmarks list`` prints (benchmarks and report-only results)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "list"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return {line.split()[0] for line in done.stdout.splitlines() if "(report only" not in line}
