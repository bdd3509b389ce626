"""Progress lines with elapsed time and ETA for every training phase (issue 11).

* :class:`EpochClock` — one line per finished epoch of a phase (``search``, ``retrain``,
  ``train``): epochs done, elapsed time, mean epoch time and the ETA of the phase's remaining
  epochs (an upper bound: early stopping or ``max_train_seconds`` may end the phase sooner).
* :class:`ProgressLoader` — wraps a training loader; while an epoch runs it logs a line at most every
  ``interval`` seconds (batch i of n, elapsed, the epoch's ETA), so a long epoch is never silent
  when ``show_progress`` (the tqdm bar) is off.
* :func:`progress_bar` — the tqdm bar RecBole draws for its epochs, for loops of our own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

LINE_INTERVAL_SECONDS = 60.0
Clock = Callable[[], float]


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m`` (rounded to the second)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class EpochClock:
    """Elapsed time and ETA of one phase's epochs (see module docstring).

    ``done_before`` epochs (and ``seconds_before`` seconds) ran before this process started (a
    resumed run); the mean epoch time is taken over all of them.
    """

    def __init__(
        self,
        phase: str,
        epochs: int,
        done_before: int = 0,
        seconds_before: float = 0.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.phase = phase
        self.epochs = int(epochs)
        self.done = int(done_before)
        self._clock = clock
        self._start = clock() - float(seconds_before)

    def elapsed(self) -> float:
        """Seconds the phase has run, those before a resume included."""
        return self._clock() - self._start

    def epoch_done(self) -> str:
        """Count one more finished epoch and return its progress line."""
        self.done += 1
        elapsed = self.elapsed()
        mean = elapsed / self.done
        left = max(self.epochs - self.done, 0)
        line = (
            f"{self.phase}: epoch {self.done}/{self.epochs} done, {format_seconds(elapsed)} elapsed"
            f" ({format_seconds(mean)} per epoch)"
        )
        if left:
            line += f", ETA ≤ {format_seconds(mean * left)} for the {left} epoch(s) left"
        return line


class ProgressLoader:
    """A training loader that logs its progress during each pass (see module docstring).

    Attributes other than iteration and length are those of the wrapped loader (``inner``).
    """

    def __init__(
        self,
        inner: Any,
        label: str,
        interval: float = LINE_INTERVAL_SECONDS,
        clock: Clock = time.monotonic,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.inner = inner
        self.label = label
        self.interval = float(interval)
        self._clock = clock
        self._log = log or logging.getLogger().info

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self) -> Iterator[Any]:
        total = len(self.inner)
        start = last = self._clock()
        for index, batch in enumerate(self.inner, start=1):
            yield batch
            now = self._clock()
            if now - last >= self.interval and index < total:
                last = now
                self._log(batch_line(self.label, index, total, now - start))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def batch_line(label: str, index: int, total: int, elapsed: float) -> str:
    """``<label>: batch i/n (p %), <elapsed> elapsed, epoch ETA <t>``."""
    eta = elapsed / index * (total - index)
    return (
        f"{label}: batch {index}/{total} ({100 * index / total:.0f} %),"
        f" {format_seconds(elapsed)} elapsed, epoch ETA {format_seconds(eta)}"
    )


def progress_bar(iterable: Iterable[Any], total: int, description: str) -> Iterable[Any]:
    """RecBole's tqdm bar (elapsed time, rate and ETA) around ``iterable``."""
    from recbole.utils import set_color
    from tqdm import tqdm

    return tqdm(iterable, total=total, ncols=100, desc=set_color(description, "pink"))
