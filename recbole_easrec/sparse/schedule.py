"""Decay of the update fraction (DSL dynamic exploration; cosine annealing as in RigL).

ζ_t = ζ_0 · (1 + cos(π t / T_stop)) / 2 for t < T_stop, else 0, with
T_stop = ``stop_update_ratio`` × total training steps.
"""

from __future__ import annotations

import math


def update_fraction(step: int, total_steps: int, initial: float, stop_ratio: float) -> float:
    """ζ_t: the fraction of each tensor's active weights replaced at ``step``."""
    stop = stop_ratio * total_steps
    if step < 0 or step >= stop:
        return 0.0
    return initial * (1 + math.cos(math.pi * step / stop)) / 2
