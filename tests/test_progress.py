"""Progress lines with elapsed time and ETA: per epoch in every phase, within long epochs."""

from __future__ import annotations

from pathlib import Path

import pytest

from recbole_easrec.progress import EpochClock, ProgressLoader, format_seconds
from recbole_easrec.quick_start import run_recbole_easrec


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0s"), (42, "42s"), (185, "3m05s"), (7620, "2h07m")]
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_epoch_clock_estimates_the_remaining_epochs_from_the_mean():
    clock = FakeClock()
    epochs = EpochClock("search", 5, clock=clock)
    clock.now += 10
    assert epochs.epoch_done() == (
        "search: epoch 1/5 done, 10s elapsed (10s per epoch), ETA ≤ 40s for the 4 epoch(s) left"
    )
    clock.now += 30
    assert "epoch 2/5 done, 40s elapsed (20s per epoch), ETA ≤ 1m00s" in epochs.epoch_done()
    clock.now += 20
    epochs.epoch_done(), epochs.epoch_done()
    assert "ETA" not in epochs.epoch_done()  # the last epoch


def test_epoch_clock_of_a_resumed_phase_counts_the_time_before_the_kill():
    clock = FakeClock()
    epochs = EpochClock("retrain", 4, done_before=2, seconds_before=60, clock=clock)
    clock.now += 30
    assert epochs.epoch_done().startswith("retrain: epoch 3/4 done, 1m30s elapsed (30s per epoch)")


def test_progress_loader_logs_at_most_once_per_interval_with_the_epoch_eta():
    clock, lines = FakeClock(), []
    loader = ProgressLoader(list(range(10)), "search epoch", 60, clock=clock, log=lines.append)
    seen = []
    for batch in loader:
        seen.append(batch)
        clock.now += 25  # a batch takes 25 s
    assert seen == list(range(10)) and len(loader) == 10
    assert lines == [
        "search epoch: batch 3/10 (30 %), 1m15s elapsed, epoch ETA 2m55s",
        "search epoch: batch 6/10 (60 %), 2m30s elapsed, epoch ETA 1m40s",
        "search epoch: batch 9/10 (90 %), 3m45s elapsed, epoch ETA 25s",
    ]
    assert loader.inner == list(range(10))


def test_every_phase_of_easrec_logs_its_epochs_with_an_eta(tiny_run_config, tmp_path):
    settings = tiny_run_config(epochs=2, retrain_epochs=2, n_layers=2, state="INFO")
    run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    log = (Path(settings["output_dir"]) / "run.log").read_text(encoding="utf-8")
    assert "search: epoch 1/2 done" in log and "ETA ≤" in log
    assert "search: epoch 2/2 done" in log
    assert "scoring architectures on validation: architecture 1/" in log
    assert "retrain: epoch 2/2 done" in log


def test_show_progress_draws_a_bar_for_the_search(tiny_run_config, capfd):
    settings = tiny_run_config(epochs=1, retrain_epochs=0, n_layers=2, show_progress=True)
    run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    assert "Search    0" in capfd.readouterr().err
