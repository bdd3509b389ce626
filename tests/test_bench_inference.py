"""benchmarks/inference.py: each study at a tiny size writes its JSON rows and its report.

The three studies run at once (one CPU thread each, synthetic lengths: no ML-1M needed); the
reports are then rebuilt as ``python -m benchmarks report`` rebuilds them (``REPORTS``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxruntime"))
TINY = {  # result: its study at a tiny size
    "attention_scaling": "--study=scaling --seq_lens 16 --batch=2 --repeats=1",
    "inference_latency_ml1m": "--study=full_ranking --lengths=full --users=6 --batch=3 --repeats=2",
    "serving": "--study=serving --requests=4 --round=2 --batches=1 --batch=4"
    + ("" if ONNX else " --no_onnx"),
}
MODELS = [
    "SASRec (RecBole)",
    "LinRec softmax (our SASRec)",
    "LinRec linear",
    "EASRecCompact gates=2",
    "EASRecCompact gates=0",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with every study's ``<result>.{json,md,png}``, all three run in parallel."""
    out = tmp_path_factory.mktemp("inference")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {
        name: subprocess.Popen(
            [sys.executable, "benchmarks/inference.py", *args.split(), f"--out={out / name}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in TINY.items()
    }
    for name, run in runs.items():
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, f"{name}: {stderr}"
    return out


def rows(results: Path, name: str) -> dict:
    return json.loads((results / f"{name}.json").read_text(encoding="utf-8"))


def test_scaling_rows_compare_every_model_with_sasrec(results: Path) -> None:
    data = rows(results, "attention_scaling")
    by_model = {row["model"]: row for row in data["rows"]}
    assert list(by_model) == ["SASRec", "softmax (ours)", "LinRec"]
    assert all(row["length"] == 16 and row["batch"] == 2 for row in data["rows"])
    for key in ("latency_seconds", "flops_per_sequence", "peak_memory_bytes"):
        assert by_model["SASRec"][f"{key}_vs_sasrec"] in (1.0, None)
    # our stack runs its last layer at the last position only: fewer FLOPs at the same sizes
    assert by_model["softmax (ours)"]["flops_per_sequence_vs_sasrec"] < 1
    assert data["meta"]["command"].startswith("python benchmarks/inference.py --study=scaling")


def test_full_ranking_rows_hold_every_model_and_ratios(results: Path) -> None:
    data = rows(results, "inference_latency_ml1m")
    assert list(data["models"]) == MODELS
    base = data["models"]["SASRec (RecBole)"]
    for key in ("time_ratio", "time_ratio_per_round_median", "flops_ratio", "memory_ratio"):
        assert base[key] == 1.0
    for row in data["models"].values():
        assert len(row["seconds"]) == 2 and row["scores_shape"] == [3, 3707]
        assert row["inference_peak_bytes"] >= 0 and row["flops"] > row["encoder_flops"] > 0
    assert data["models"]["EASRecCompact gates=2"]["flops_ratio"] < 0.1
    assert data["protocol"]["length_stats"]["share_at_200"] == 1.0


def test_serving_rows_hold_every_model_and_engine(results: Path) -> None:
    data = rows(results, "serving")
    engines = ["eager", "onnxruntime"] if ONNX else ["eager"]
    served = MODELS[:4]
    assert [(r["model"], r["engine"]) for r in data["rows"]] == [
        (m, e) for m in served for e in engines
    ]
    reference = data["rows"][0]
    assert reference["x_requests_per_s"] == reference["x_batch256_per_s"] == 1.0
    assert all(r["p99_ms"] >= r["p50_ms"] > 0 for r in data["rows"])
    assert data["settings"]["batch"] == 4


def test_recorded_commands_and_reports_use_the_module(
    results: Path, bench_main: ModuleType
) -> None:
    main = bench_main
    for name, args in TINY.items():  # `python -m benchmarks run NAME` runs this study
        assert main.BENCHES[name].script == "inference.py"
        assert main.BENCHES[name].args[0] == args.split()[0]
        report = (results / f"{name}.md").read_text(encoding="utf-8")
        assert "<!-- findings -->" in report and str(results) not in report
    (results / "serving.md").write_text("# old\n\n<!-- findings -->\nkept\n<!-- /findings -->\n")
    written = main.regenerate(list(TINY), results)  # `python -m benchmarks report NAME...`
    assert len(written) == 5
    text = {name: (results / f"{name}.md").read_text(encoding="utf-8") for name in TINY}
    assert "| EASRecCompact gates=0 | 96/192/1/4 |" in text["inference_latency_ml1m"]
    assert "| 16 | LinRec |" in text["attention_scaling"]
    assert "rows/s (batch 4)" in text["serving"] and "\nkept\n" in text["serving"]
    for name in ("attention_scaling", "serving"):
        assert (results / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
