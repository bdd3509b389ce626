"""benchmarks/training_speed.py: the catalogue study at a tiny size writes its JSON, Markdown and
plot through ``python -m benchmarks run step_time``, and its report rebuilds from that JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("CE fp32", "sampled_ce fp32")


def benchmarks(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m benchmarks ARGS`` (its runs use one thread: ``OMP_NUM_THREADS=1``)."""
    command = [sys.executable, "-m", "benchmarks", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_catalogue_study_writes_json_report_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "step_time"
    tiny = ["--catalogues=200,500", "--repeats=1", f"--variants={';'.join(VARIANTS)}"]
    done = benchmarks("run", "step_time", *tiny, f"--out={out}")
    assert done.returncode == 0, done.stderr
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert {(r["n_items"], r["variant"]) for r in data["rows"]} == {
        (n, v) for n in (200, 500) for v in VARIANTS
    }
    assert all(r["step_seconds"] > 0 for r in data["rows"])
    assert all(r["speedup_vs_ce_fp32"] == 1.0 for r in data["rows"] if r["variant"] == "CE fp32")
    assert "--study=catalogue" in data["command"] and str(tmp_path) not in data["command"]
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"

    report = out.with_suffix(".md")
    written = report.read_text(encoding="utf-8")
    assert "| 500 | " in written and "sampled_ce fp32 s (× CE fp32)" in written
    report.unlink()
    again = benchmarks("report", f"--results={tmp_path}", "step_time")
    assert again.returncode == 0, again.stderr
    assert report.read_text(encoding="utf-8") == written
