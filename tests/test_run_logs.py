"""A run's logs: TensorBoard events in the run folder, one per run, named like RecBole's; a plain
``run.log`` that starts with the settings (issue 30, items 3 and 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from recbole_easrec.quick_start import PlainFormatter, plain_metrics, run_recbole_easrec
from tests.conftest import tiny_config, write_cycle_dataset

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Path:
    """Two LinRec runs (2 and 1 epochs) into the same folder, from another working directory."""
    base = tmp_path_factory.mktemp("logs")
    data_path = write_cycle_dataset(base / "data")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(base)
    try:
        for epochs in (2, 1):
            settings = tiny_config(data_path, base / "run", epochs=epochs, state="INFO")
            run_recbole_easrec("LinRec", "tiny", config_dict=settings)
    finally:
        monkeypatch.undo()
    return base


def test_tensorboard_events_are_in_the_run_folder_one_per_run(two_runs) -> None:
    assert not (two_runs / "log_tensorboard").exists()  # nothing in the working directory
    folders = sorted((two_runs / "run" / "log_tensorboard").iterdir())
    assert len(folders) == 2
    assert all(re.fullmatch(r"LinRec-tiny-\w{3}-\d\d-\d{4}_[\d-]+(-\d+)?", f.name) for f in folders)
    points = []
    for folder in folders:
        events = EventAccumulator(str(folder))
        events.Reload()
        points.append(sorted(event.step for event in events.Scalars("Loss/Train")))
    assert sorted(points, key=len) == [[0], [0, 1]]  # each run's epochs, once each


def test_run_log_is_plain_text_with_the_settings_first_and_plain_numbers(two_runs) -> None:
    log = (two_runs / "run" / "run.log").read_text(encoding="utf-8")
    assert "\x1b" not in log
    first = log.splitlines()[0]
    assert "settings of this run" in first
    assert re.search(r"^seed = 2020$", log, re.MULTILINE)
    assert "np.float64" not in log
    assert re.search(r"test result: recall@10 : \d\.\d{4}", log)


def test_plain_formatter_strips_colour_codes() -> None:
    import logging

    record = logging.LogRecord(
        "x", logging.INFO, "", 0, "\x1b[1;34mSaving\x1b[0m: %s", ("f",), None
    )
    assert PlainFormatter("%(message)s").format(record) == "Saving: f"


def test_plain_metrics_prints_numbers() -> None:
    import numpy as np

    assert plain_metrics({"ndcg@10": np.float64(0.0351)}) == "ndcg@10 : 0.0351"
