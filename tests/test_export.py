"""Export for serving (issue 12, item 3): ONNX and TorchScript files score as PyTorch does."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from recbole_easrec.cli import main
from recbole_easrec.errors import UserError
from recbole_easrec.export import (
    EXPORT_FILES,
    ScoringModule,
    example_inputs,
    export,
    export_module,
)
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.recommend import load_run, recommend
from tests.conftest import tiny_config, write_cycle_dataset

MAX_LENGTH = 10
# the compact EASRec network, LinRec, DSL (dense weights, CSR scoring switched on) and RecBole's SASRec
RUNS = {
    "EASRec": {"epochs": 1, "retrain_epochs": 1, "n_layers": 2},
    "LinRec": {},
    "DSL": {"density": 0.5, "dsl_sparse_inference": True},
    "SASRec": {},
}
SHAPES = [(3, MAX_LENGTH), (5, 4), (1, 1)]  # (batch, length): neither is the traced one alone


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("export")
    data_path = write_cycle_dataset(base / "data")
    folders = {}
    for model, overrides in RUNS.items():
        settings = tiny_config(
            data_path, base / model, MAX_ITEM_LIST_LENGTH=MAX_LENGTH, **overrides
        )
        folders[model] = Path(run_recbole_easrec(model, "tiny", config_dict=settings)["output_dir"])
    return folders


def skip_without_onnx(fmt: str) -> None:
    """ONNX export needs ``onnx`` and running it ``onnxruntime``: the optional ``onnx`` extra."""
    if fmt == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")


def run_exported(path: Path, fmt: str, item_seq: torch.Tensor, lengths: torch.Tensor) -> list:
    """The exported file's outputs as NumPy arrays (ONNX Runtime or TorchScript)."""
    if fmt == "onnx":
        ort = pytest.importorskip("onnxruntime")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {"item_seq": item_seq.numpy(), "item_seq_len": lengths.numpy()})
    with torch.no_grad():
        outputs = torch.jit.load(str(path))(item_seq, lengths)
    return [o.numpy() for o in (outputs if isinstance(outputs, tuple) else (outputs,))]


def model_scores(model, item_seq: torch.Tensor, lengths: torch.Tensor) -> np.ndarray:
    """The loaded model's own full-ranking scores (RecBole's interface)."""
    interaction = {model.ITEM_SEQ: item_seq, model.ITEM_SEQ_LEN: lengths}
    with torch.no_grad():
        return model.full_sort_predict(interaction).numpy()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("model_name", list(RUNS))
def test_exported_scores_equal_pytorch_at_any_batch_and_length(runs, model_name, fmt) -> None:
    skip_without_onnx(fmt)
    path = export(runs[model_name], fmt, exclude_history=False, overwrite=True)
    assert path == runs[model_name] / EXPORT_FILES[fmt]
    _, model, _ = load_run(runs[model_name])
    for batch, length in SHAPES:
        item_seq, lengths = example_inputs(model.n_items, length, batch)
        (scores,) = run_exported(path, fmt, item_seq, lengths)
        expected = model_scores(model, item_seq, lengths)
        assert scores.shape == (batch, model.n_items)
        assert np.isneginf(scores[:, 0]).all()  # padding is never recommended
        np.testing.assert_allclose(scores[:, 1:], expected[:, 1:], atol=1e-4, rtol=0)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("model_name", ["EASRec", "SASRec"])
def test_exported_top_k_excludes_the_input_items(runs, model_name, fmt) -> None:
    skip_without_onnx(fmt)
    path = export(runs[model_name], fmt, k=5, overwrite=True)
    _, model, _ = load_run(runs[model_name])
    for batch, length in SHAPES:
        item_seq, lengths = example_inputs(model.n_items, length, batch)
        top_scores, top_items = run_exported(path, fmt, item_seq, lengths)
        assert top_items.shape == top_scores.shape == (batch, 5)
        expected = model_scores(model, item_seq, lengths)
        expected[:, 0] = -math.inf
        for row in range(batch):
            expected[row, item_seq[row].numpy()] = -math.inf
            assert not set(top_items[row]) & set(item_seq[row].tolist())
        want_scores, want_items = torch.topk(torch.from_numpy(expected), 5, dim=1)
        np.testing.assert_array_equal(top_items, want_items.numpy())
        np.testing.assert_allclose(top_scores, want_scores.numpy(), atol=1e-4, rtol=0)


def test_description_maps_tokens_like_recommend(runs) -> None:
    """The ``item_tokens`` of ``model.onnx.json`` turn the exported top-k into the same answer as
    :func:`recommend` for the same history."""
    skip_without_onnx("onnx")
    path = export(runs["LinRec"], "onnx", k=6, overwrite=True)
    description = json.loads(path.with_name("model.onnx.json").read_text())
    assert description["outputs"] == ["top_scores", "top_items"] and description["k"] == 6
    tokens = description["item_tokens"]
    assert tokens[0] == "[PAD]" and len(tokens) == description["n_items"]
    history = ["i3", "i4", "i5", "i6"]
    index = {token: i for i, token in enumerate(tokens)}
    item_seq = torch.zeros(1, description["max_length"], dtype=torch.long)
    item_seq[0, : len(history)] = torch.tensor([index[t] for t in history])
    top_scores, top_items = run_exported(path, "onnx", item_seq, torch.tensor([len(history)]))
    (answer,) = recommend(runs["LinRec"], histories=[history], k=6)
    assert [tokens[i] for i in top_items[0]] == answer["items"]
    np.testing.assert_allclose(top_scores[0], answer["scores"], atol=1e-4)


def test_export_module_leaves_the_model_as_it_was(runs, tmp_path) -> None:
    _, model, _ = load_run(runs["DSL"])
    assert model.sparse_inference
    export_module(model, tmp_path / "dsl.pt", "torchscript", k=3)
    assert model.sparse_inference and all(p.requires_grad for p in model.parameters())
    module = ScoringModule(model, k=3)
    item_seq, lengths = example_inputs(model.n_items, MAX_LENGTH, 2)
    top_scores, top_items = run_exported(tmp_path / "dsl.pt", "torchscript", item_seq, lengths)
    with torch.no_grad():
        want_scores, want_items = module(item_seq, lengths)
    np.testing.assert_array_equal(top_items, want_items.numpy())
    np.testing.assert_allclose(top_scores, want_scores.numpy(), atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "tflite"}, "unknown export format 'tflite'"),
        ({"k": 0}, "whole number in 1"),
        ({"k": 31}, "whole number in 1"),
    ],
)
def test_bad_export_requests_are_one_line_errors(runs, kwargs, message) -> None:
    with pytest.raises(UserError, match=message) as raised:
        export(runs["LinRec"], **kwargs, overwrite=True)
    assert "\n" not in str(raised.value)


def test_onnx_export_without_the_onnx_package_is_one_line(runs, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if it were not installed
    with pytest.raises(UserError, match=r"needs the onnx package: pip install") as raised:
        export(runs["LinRec"], "onnx", overwrite=True)
    assert "\n" not in str(raised.value)


def test_cli_export(runs, capsys) -> None:
    folder = runs["SASRec"]
    assert main([f"--export={folder}", "--format=torchscript", "--topk=3", "--overwrite"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert Path(written["model_file"]) == folder / "model_torchscript.pt"
    assert json.loads(Path(written["description"]).read_text())["outputs"] == [
        "top_scores",
        "top_items",
    ]
    assert main([f"--export={folder}", "--format=pickle"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown export format") and "\n" not in err
    assert main([f"--export={folder}", f"--recommend={folder}"]) == 2
    assert "separate commands" in capsys.readouterr().err


def test_an_earlier_export_is_kept_without_overwrite(tmp_path, runs, capsys) -> None:
    """A second ``--export`` refuses with one line naming ``--overwrite`` and leaves the earlier
    files as they were; ``--overwrite`` replaces both."""
    folder = tmp_path / "run"
    shutil.copytree(runs["LinRec"], folder)
    for name in EXPORT_FILES.values():  # exports of the tests before this one
        for file in (folder / name, folder / f"{name}.json"):
            file.unlink(missing_ok=True)
    assert main([f"--export={folder}", "--format=torchscript", "--topk=3"]) == 0
    capsys.readouterr()
    model_file, description = folder / "model_torchscript.pt", folder / "model_torchscript.pt.json"
    earlier = model_file.read_bytes(), description.read_text()
    assert main([f"--export={folder}", "--format=torchscript"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {model_file} already exists") and "--overwrite" in err
    assert "\n" not in err
    assert (model_file.read_bytes(), description.read_text()) == earlier
    with pytest.raises(UserError, match="overwrite=True"):
        export(folder, "torchscript")
    description.unlink()  # the model file alone also counts as an earlier export
    with pytest.raises(UserError, match="already exists"):
        export(folder, "torchscript", k=2)
    assert model_file.read_bytes() == earlier[0]
    assert main([f"--export={folder}", "--format=torchscript", "--overwrite"]) == 0
    assert json.loads(description.read_text())["outputs"] == ["scores"]
    assert model_file.read_bytes() != earlier[0]


def test_overwrite_without_export_is_a_one_line_error(capsys) -> None:
    assert main(["--model=LinRec", "--dataset=tiny", "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --overwrite goes with --export=RUN_DIR (it replaces an earlier export)"
