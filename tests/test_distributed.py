"""Training in several processes (issue 11, item 6): 2 CPU processes on gloo, tiny data."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from recbole_easrec.cli import main
from recbole_easrec.distributed import Launch, shard
from recbole_easrec.errors import ConfigError
from recbole_easrec.launch import check_launch
from tests.conftest import tiny_config, write_cycle_dataset


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def test_shards_cover_every_row_with_equal_counts() -> None:
    order = torch.tensor([4, 0, 3, 1, 2])
    parts = [shard(order, rank, 2) for rank in range(2)]
    assert [len(part) for part in parts] == [3, 3]
    assert set(torch.cat(parts).tolist()) == set(order.tolist())
    assert torch.equal(shard(order, 0, 1), order)
    assert [len(shard(torch.tensor([7]), rank, 3)) for rank in range(3)] == [1, 1, 1]


@pytest.mark.parametrize(
    ("launch", "message"),
    [
        (Launch(nproc=0), "--nproc must be a positive"),
        (Launch(nproc=2, world_size=3, offset=2), "exceeds --world_size=3"),
        (Launch(nproc=2, port=0), "--port must be a positive"),
    ],
)
def test_impossible_process_groups_are_one_line_errors(launch: Launch, message: str) -> None:
    assert launch.distributed
    with pytest.raises(ConfigError, match=message):
        check_launch(launch, {}, resume=False)


def test_resume_and_time_budgets_are_refused() -> None:
    with pytest.raises(ConfigError, match="--resume"):
        check_launch(Launch(nproc=2), {}, resume=True)
    with pytest.raises(ConfigError, match="max_train_seconds"):
        check_launch(Launch(nproc=2), {"max_train_seconds": "60"}, resume=False)


def test_a_time_budget_from_a_config_file_is_refused_before_any_process_starts(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    settings = tmp_path / "budget.yaml"
    settings.write_text("max_train_seconds: 60\n", encoding="utf-8")
    argv = ["--model=LinRec", "--dataset=tiny", f"--data_path={data}", "--nproc=2"]
    assert main([*argv, f"--config_files={settings}", f"--output_dir={tmp_path / 'run'}"]) == 2
    assert "max_train_seconds stops each process" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_single_process_is_not_distributed() -> None:
    assert not Launch().distributed
    assert Launch(world_size=1).distributed


def cli_run(data: Path, out: Path, model: str, nproc: int, **settings: object) -> dict:
    config = tiny_config(data, out, **settings)
    config.pop("output_dir")
    argv = [f"--model={model}", "--dataset=tiny", f"--output_dir={out}"]
    argv += [f"--{key}={value}" for key, value in config.items()]
    if nproc > 1:
        argv += [f"--nproc={nproc}", f"--port={free_port()}"]
    assert main(argv) == 0
    return json.loads((out / "result.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cycle_dataset(tmp_path_factory.mktemp("ddp"), n_users=80)


def test_linrec_in_two_processes_matches_one(data: Path, tmp_path: Path) -> None:
    """The command of the issue on tiny data: rank 0 writes the run folder, nothing else is left,
    the replicas end identical (checked inside the run) and NDCG@10 is that of one process within
    the noise of different batches and dropout draws."""
    one = cli_run(data, tmp_path / "one", "LinRec", 1, epochs=6)
    two = cli_run(data, tmp_path / "two", "LinRec", 2, epochs=6)
    assert two["config"]["world_size"] == 2 and not two["config"]["single_spec"]
    assert abs(two["test_result"]["ndcg@10"] - one["test_result"]["ndcg@10"]) < 0.1
    assert two["test_result"]["ndcg@10"] > 0.2  # learnt: popularity scores ~0.15 here
    assert (tmp_path / "two" / "model.pt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]


@pytest.mark.parametrize("model", ["EASRec", "DSL"])
def test_searched_and_sparse_models_in_two_processes(
    data: Path, tmp_path: Path, model: str
) -> None:
    """EASRec (α, β and W all-reduced, then retraining) chooses the single-process architecture;
    DSL's masks stay identical on both ranks (the replica check inside the run)."""
    settings = {"epochs": 3, "n_layers": 2, "hidden_dropout_prob": 0.0, "attn_dropout_prob": 0.0}
    one = cli_run(data, tmp_path / "one", model, 1, **settings)
    two = cli_run(data, tmp_path / "two", model, 2, **settings)
    if model == "EASRec":
        keys = ("candidate", "n_layers", "hidden_size", "inner_size")
        assert {k: two["architecture"][k] for k in keys} == {
            k: one["architecture"][k] for k in keys
        }
    assert abs(two["test_result"]["ndcg@10"] - one["test_result"]["ndcg@10"]) < 0.1


def test_cli_reports_bad_launch_settings_in_one_line(
    data: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["--model=LinRec", "--dataset=tiny", f"--data_path={data}", "--nproc=0"]) == 2
    assert (
        capsys.readouterr().err.strip() == "error: --nproc must be a positive whole number, got 0"
    )
    assert main(["--model=Nope", "--dataset=tiny", f"--data_path={data}", "--nproc=2"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown model 'Nope'")


def test_gpu_ids_without_cuda_are_named_in_one_line():
    """Issue 30, item 7: --nproc=4 --gpu_id=0,1,2,3 without CUDA silently ran CPU processes."""
    from recbole_easrec.launch import launch_lines

    lines = launch_lines(Launch(nproc=4), "0,1,2,3", cuda_available=False)
    assert lines[0].startswith("warning: --gpu_id=0,1,2,3 names CUDA devices")
    assert "the 4 processes run on the CPU (gloo)" in lines[0]
    assert lines[1].startswith("this run uses 4 processes: 4 here (ranks 0-3) on the CPU (gloo)")
    assert len(lines) == 2  # one machine: nothing to wait for
    with_cuda = launch_lines(Launch(nproc=2), "0,1", cuda_available=True)
    assert with_cuda == [
        "this run uses 2 processes: 2 here (ranks 0-1) on GPUs 0,1 (nccl), meeting at"
        " tcp://localhost:5678"
    ]
    assert not launch_lines(Launch(nproc=2), None, cuda_available=False)[0].startswith("warning")


def test_a_machine_waiting_for_others_says_what_it_waits_for():
    from recbole_easrec.launch import launch_lines

    lines = launch_lines(Launch(nproc=2, world_size=4, ip="10.0.0.1", offset=2), None, False)
    assert lines[0].startswith("this run uses 4 processes: 2 here (ranks 2-3)")
    assert lines[1].startswith("waiting at tcp://10.0.0.1:5678 for the 2 processes of the other")
