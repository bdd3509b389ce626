"""What every benchmark shares: paths, machine description, timing, and JSON / Markdown writing.

* **Paths.** Results live in ``benchmarks/results/``; datasets default to ``../shared/datasets``
  (relative to the repository root). Nothing written under ``results/`` names this machine's
  folders: :func:`scrub_paths` turns absolute paths into repository-relative ones.
* **Timing.** :func:`alternate` warms every callable up, then lets them take turns (order
  rotated every round), so that ratios come from the same run and the same load;
  :func:`time_alternating` gives their medians.
* **Figures.** :func:`figure` and :func:`save_figure` (PNG, written atomically).
* **Reports.** :func:`write_report` writes a generated Markdown report and keeps the hand-written
  section between ``<!-- findings -->`` and ``<!-- /findings -->`` of the file it replaces.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA_PATH = "../shared/datasets"  # relative to the repository root, where ML-1M is expected
PAPER_ML1M = {  # the EASRec paper's ML-1M hyper-parameters (Table II), shared by the benchmarks
    "MAX_ITEM_LIST_LENGTH": 200,  # N
    "hidden_size": 128,  # d
    "inner_size": 256,  # D
    "n_layers": 4,  # L
    "n_heads": 4,
    "hidden_dropout_prob": 0.2,
    "attn_dropout_prob": 0.2,
    "learning_rate": 0.001,
}
# Results whose gated networks were timed before issue 27 made the data-aware gates causal:
# each page carries this line under its title (harness.with_banner).
_GATE_COST = (
    "> **Gate cost outdated (issue 27):** the gated networks here were timed with gates computed"
    " once per sequence; the causal gates run at every position and cost more"
    " (`search/resource.py: gate_flops` × N). Ungated rows are unaffected."
)
SUPERSEDED: dict[str, str] = dict.fromkeys(("inference_latency_ml1m", "serving"), _GATE_COST)
# The HH:MM:SS stamp that starts each line of a run's run.log (hours, minutes, seconds).
LOG_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d) ")
FINDINGS_START = "<!-- findings -->"
FINDINGS_END = "<!-- /findings -->"
FINDINGS = re.compile(re.escape(FINDINGS_START) + r".*?" + re.escape(FINDINGS_END), re.S)
SITE_PACKAGES = re.compile(r"[^\s\"'`]*/site-packages/")
ABSOLUTE = re.compile(r"(?<![\w.~])/(?:work|tmp|home|root|mnt|data|Users)/[^\s\"'`,)]*")


def add_timing_arguments(parser: Any, unit: str) -> None:
    """``--time`` (a timing pass: ``inference.time_architectures``), ``--repeats`` (passes per
    ``unit``), ``--threads`` and ``--data_path``, for the reports that time what they judge."""
    parser.add_argument("--time", action="store_true", help="add a timing pass (an idle CPU)")
    parser.add_argument("--repeats", type=int, default=5, help=f"timing pass: passes per {unit}")
    parser.add_argument("--threads", type=int, default=1, help="timing pass: torch threads")
    parser.add_argument("--data_path", default=DATA_PATH, help="timing pass: datasets")


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict[str, Any]:
    """The machine a measurement ran on, recorded in every result JSON."""
    import torch

    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "cores_visible": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def proc_status_kb(key: str) -> int:
    """A ``/proc/self/status`` field in KiB (Linux), e.g. ``VmRSS`` or ``VmHWM`` (peak RSS)."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def peak_rss_bytes() -> int:
    """Peak resident memory since the last :func:`reset_peak_rss` (0 where Linux's VmHWM is not)."""
    try:
        return proc_status_kb("VmHWM") * 1024
    except (OSError, RuntimeError):
        return 0


def reset_peak_rss() -> None:
    """Resets the peak RSS (VmHWM) to the current RSS, where Linux allows it."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="utf-8")
    except OSError:
        pass


def alternate(
    calls: Mapping[Hashable, Callable[..., Any]],
    inputs: Sequence[tuple[Any, ...]],
    round_size: int = 1,
    warmup: tuple[Any, ...] | None = None,
    warmups: int = 1,
) -> dict[Hashable, list[float]]:
    """Seconds of every ``call(*input)``, after ``warmups`` untimed ``call(*warmup)`` (default: the
    first input) each. The calls take turns, ``round_size`` inputs at a time, the order rotated
    every round, so that they share the machine's load alike."""
    for _ in range(warmups):
        for call in calls.values():
            call(*(inputs[0] if warmup is None else warmup))
    keys, times = list(calls), {key: [] for key in calls}
    for index, start in enumerate(range(0, len(inputs), round_size)):
        shift = index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            for item in inputs[start : start + round_size]:
                begin = time.perf_counter()
                calls[key](*item)
                times[key].append(time.perf_counter() - begin)
    return times


def time_alternating(
    calls: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> dict[str, float]:
    """Median seconds of each argument-free call over ``repeats`` :func:`alternate` rounds."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times = alternate(calls, [()] * repeats, warmups=warmup)
    return {name: statistics.median(values) for name, values in times.items()}


def figure(columns: int = 1, size: tuple[float, float] = (6, 4)) -> tuple[Any, Any]:
    """A Matplotlib figure (no pyplot state) and its ``columns`` axes side by side."""
    from matplotlib.figure import Figure

    canvas = Figure(figsize=size)
    return canvas, canvas.subplots(1, columns)


def save_figure(canvas: Any, path: Path, dpi: int = 100) -> Path:
    """Writes a figure of :func:`figure` as a PNG (laid out tightly, atomically)."""
    from recbole_easrec.artifacts import atomic_target

    canvas.tight_layout()
    with atomic_target(Path(path)) as temp:
        canvas.savefig(temp, dpi=dpi, format="png", metadata={"Software": None})
    return Path(path)


def child_json(arguments: list[str], env: Mapping[str, str] | None = None) -> Any:
    """Run ``python ARGUMENTS`` in a fresh interpreter (peak memory and threads of its own) and
    parse the JSON of the last line it prints."""
    done = subprocess.run(
        [sys.executable, *arguments], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``, or ``None`` when either is missing or the reference is zero."""
    if value is None or reference in (None, 0):
        return None
    return float(value) / float(reference)


def scrub_text(text: str, root: Path = ROOT) -> str:
    """Replaces this machine's absolute paths by repository-relative ones (``../shared/...``)."""
    text = SITE_PACKAGES.sub("<site-packages>/", text)
    text = text.replace(str(root) + "/", "").replace(str(root), ".")
    text = text.replace(str(root.parent) + "/", "../")
    return ABSOLUTE.sub("<local path>", text)


def scrub_paths(value: Any, root: Path = ROOT) -> Any:
    """A copy of a JSON value with every string passed through :func:`scrub_text`."""
    if isinstance(value, str):
        return scrub_text(value, root)
    if isinstance(value, Mapping):
        return {key: scrub_paths(item, root) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_paths(item, root) for item in value]
    return value


def read_json(path: Path) -> Any:
    """A result JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_json(path: Path, content: Any) -> Path:
    """Writes a result JSON (atomically, machine paths scrubbed)."""
    from recbole_easrec.artifacts import write_json_atomic

    return write_json_atomic(path, scrub_paths(content))


def network_name(hidden: int, inner: int, layers: int) -> str:
    """A network's name in the ground truths and search pages: ``d48-D192-L2``."""
    return f"d{hidden}-D{inner}-L{layers}"


def finished_runs(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The run records that finished (``status: ok``)."""
    return [record for record in records if record.get("status") == "ok"]


def merge_by_name(*sources: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Run records of several ``sources`` (a committed result's, then fresher ones), one per
    name, in the order names first appear: a later record replaces an earlier one of its name,
    except that a failure never replaces a finished run (``status: ok``)."""
    merged: dict[str, dict[str, Any]] = {}
    for source in sources:
        for record in source:
            earlier = merged.get(record["name"])
            if earlier is None or record.get("status") == "ok" or earlier.get("status") != "ok":
                merged[record["name"]] = dict(record)
    return list(merged.values())


def findings_of(text: str) -> str | None:
    """The hand-written findings block of a report (markers included), if it has one."""
    match = FINDINGS.search(text)
    return match.group(0) if match else None


def with_findings(generated: str, findings: str | None) -> str:
    """The generated report with the findings block placed under its title line."""
    block = findings or f"{FINDINGS_START}\n{FINDINGS_END}"
    title, _, rest = re.sub(r"\n{3,}", "\n\n", generated).partition("\n")
    return f"{title}\n\n{block}\n\n{rest.lstrip()}".rstrip() + "\n"


def with_banner(stem: str, page: str) -> str:
    """``page`` with the :data:`SUPERSEDED` line of result ``stem`` (if any) under its title."""
    banner = SUPERSEDED.get(stem)
    if banner is None or banner in page:
        return page
    title, _, rest = page.partition("\n")
    return f"{title}\n\n{banner}\n\n{rest.lstrip()}"


def write_report(path: Path, generated: str) -> Path:
    """Writes a Markdown report, keeping the findings block of the file it replaces (and the
    result's :data:`SUPERSEDED` line, if it has one, under the title)."""
    from recbole_easrec.artifacts import write_text_atomic

    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    page = with_findings(generated, findings_of(old))
    return write_text_atomic(path, scrub_text(with_banner(path.stem, page)))


def fmt(value: Any, digits: int = 4) -> str:
    """A table cell: ``–`` for missing, ``yes``/``no``, thousands separators, ``digits`` decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"
    return str(value)


def table(
    rows: Sequence[Any], columns: Sequence[tuple[str, Callable[[Any], Any]]], align: str = ""
) -> str:
    """A Markdown table: one ``(header, cell(row))`` pair a column; cells that are not strings go
    through :func:`fmt`. ``align`` holds one character a column (``l``, ``r``; default none)."""
    rule = {"l": ":---", "r": "---:"}
    lines = [
        "| " + " | ".join(name for name, _ in columns) + " |",
        "|" + "".join(rule.get(a, "---") + "|" for a in align.ljust(len(columns))),
    ]
    for row in rows:
        cells = (get(row) for _, get in columns)
        lines.append("| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in cells) + " |")
    return "\n".join(lines)
