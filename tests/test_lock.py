"""One run per folder, and a run that fails or is refused leaves earlier files untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from recbole_easrec.artifacts import save_torch_atomic
from recbole_easrec.cli import main
from recbole_easrec.locking import LOCK_FILE, RunLock, RunLockError

HOLD = (
    "import sys, time; from recbole_easrec.locking import RunLock;"
    " lock = RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)"
)


def hold_in_subprocess(folder) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"held"
    return holder


def earlier_run(folder) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"result.json": b'{"previous": true}\n', "model.json": b"{}\n", "checkpoint.pth": b"x"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_second_lock_is_refused_then_released(tmp_path):
    with RunLock(tmp_path / "run") as first:
        assert (tmp_path / "run" / LOCK_FILE).read_text().split()[0] == str(os.getpid())
        with pytest.raises(RunLockError, match=f"in use by another run \\(pid {os.getpid()}"):
            RunLock(tmp_path / "run").acquire()
    assert not first.path.exists()
    with RunLock(tmp_path / "run"):
        pass


def test_run_into_a_folder_held_by_a_live_run_is_one_line_error(tiny_data, tmp_path, capsys):
    out = tmp_path / "out"
    files = earlier_run(out)
    holder = hold_in_subprocess(out)
    try:
        argv = [
            "--model=LinRec",
            "--dataset=tiny",
            f"--data_path={tiny_data}",
            f"--output_dir={out}",
        ]
        assert main([*argv, "--epochs=1", "--state=WARNING"]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("error: ") and f"pid {holder.pid}" in err and "--output_dir" in err
    finally:
        holder.kill()
        holder.wait()
    assert {name: (out / name).read_bytes() for name in files} == files


def test_lock_of_a_killed_run_is_taken_over(tmp_path):
    holder = hold_in_subprocess(tmp_path / "run")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "run" / LOCK_FILE).read_text().split()[0] == str(holder.pid)  # left behind
    with RunLock(tmp_path / "run") as lock:
        assert lock.path.read_text().split()[0] == str(os.getpid())


def test_stale_lock_file_with_a_dead_pid_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / LOCK_FILE).write_text(f"{dead.pid} somewhere\n")
    with RunLock(tmp_path / "run") as lock:
        assert lock.path.read_text().split()[0] == str(os.getpid())


def test_failed_run_keeps_earlier_files_and_releases_the_lock(tmp_path, capsys):
    out = tmp_path / "out"
    files = earlier_run(out)
    data = tmp_path / "data" / "bad"
    data.mkdir(parents=True)
    (data / "bad.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\tx\n")
    argv = ["--model=LinRec", "--dataset=bad", f"--data_path={tmp_path / 'data'}"]
    assert main([*argv, f"--output_dir={out}", "--state=WARNING"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: ")
    assert {name: (out / name).read_bytes() for name in files} == files
    assert not (out / LOCK_FILE).exists()
    with RunLock(out):  # released although the run failed
        pass


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle")


def test_failed_torch_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "checkpoint.pth"
    save_torch_atomic({"epoch": 1}, path)
    with pytest.raises(RuntimeError):
        save_torch_atomic({"epoch": 2, "bad": Unpicklable()}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth"]
