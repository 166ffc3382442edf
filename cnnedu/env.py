"""Session setup: seeds, device choice and the course's one plotting style."""

from __future__ import annotations

import gc
import math
import os
import random
from pathlib import Path

import numpy as np
import torch

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "legend.frameon": False,
    "font.size": 10,
    "axes.prop_cycle": __import__("cycler").cycler(
        color=["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    ),
}


def get_device() -> torch.device:
    """The best device present: CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so that a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def use_style() -> None:
    """Apply the single matplotlib style that every figure of the course uses."""
    import matplotlib as mpl
    import matplotlib.pyplot  # noqa: F401  (in Jupyter this loads the inline backend, which displays Figures)

    mpl.rcParams.update(STYLE)


# cgroup v2 writes "max 100000" or "<quota> <period>"; v1 has two files (quota -1 when unlimited)
CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def cpu_quota(v2: Path = CGROUP_V2, v1: tuple[Path, Path] = CGROUP_V1) -> float | None:
    """The CPUs this process may use under its cgroup quota (Binder, Docker, Kubernetes), or None if unlimited.

    torch sizes its thread pool by the host's cores; in a pod limited to 1 or 2 CPUs, dozens of threads then
    compete for the quota and small operations become many times slower.
    """
    try:
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        if v1[0].exists() and v1[1].exists():
            quota, period = int(v1[0].read_text()), int(v1[1].read_text())
            return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None
    return None


def usable_cpus(quota: float | None = None) -> int:
    """The CPUs this process may run on: its affinity mask, capped by the cgroup CPU quota (rounded up)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        cpus = os.cpu_count() or 1
    quota = cpu_quota() if quota is None else quota
    if quota is not None and quota > 0:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def course_threads(cpus: int) -> int:
    """The torch threads the course uses on ``cpus`` usable CPUs: one on up to two CPUs, else one per CPU.

    The course's networks are small: a second thread gains little on them, and on a 2-core laptop or a
    Binder pod the other core is rarely free (the browser, the Jupyter server, another kernel). Two threads
    that wait for each other on one free core then ran several times slower than one thread (issue 16's
    measurement on this course's 2-core CI machine). One thread also makes a seeded run give the numbers
    stored in the notebooks, which were made with one thread.
    """
    if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1:
        raise ValueError(f"cpus must be an integer >= 1, got {cpus!r}")
    return 1 if cpus <= 2 else cpus


def freeze_long_lived() -> None:
    """Collect, then move every object alive now out of the garbage collector's full scans (``gc.freeze``).

    Imported libraries (torch alone brings about 300,000 objects) and, after an explorer's first draw, what it
    imported lazily (torchvision brings torch._dynamo and sympy, about 150,000) live as long as the kernel.
    Left in the scanned generations, each full collection walks them all (0.1-0.3 s on a small CPU), a stall
    every few slider moves. :func:`setup` calls this after the imports, each explorer after its first draw.
    """
    gc.collect()
    gc.freeze()


def setup(seed: int = 0, verbose: bool = True, threads: int | None = None) -> torch.device:
    """Seed everything, pick the device, set the plotting style; print one line and return the device.

    Threads: ``threads`` if given, else the environment variable ``CNNEDU_THREADS`` if set, else
    :func:`course_threads` of the usable CPUs (the cgroup quota of a Binder pod or container counts), which
    only ever lowers torch's count (so ``OMP_NUM_THREADS`` still caps it).

    It also freezes the objects that exist so far out of the garbage collector's full scans
    (:func:`freeze_long_lived`).
    """
    if threads is None and os.environ.get("CNNEDU_THREADS"):
        try:
            threads = int(os.environ["CNNEDU_THREADS"])
        except ValueError:
            threads = os.environ["CNNEDU_THREADS"]  # reported below
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads (or CNNEDU_THREADS) must be an integer >= 1, or None for the course's "
                         f"choice, got {threads!r}")
    seed_everything(seed)
    use_style()
    if threads is None:
        torch.set_num_threads(min(torch.get_num_threads(), course_threads(usable_cpus())))
    else:
        torch.set_num_threads(threads)
    freeze_long_lived()
    device = get_device()
    if verbose:
        name = torch.cuda.get_device_name(0) if device.type == "cuda" else device.type
        n = torch.get_num_threads()
        print(f"cnnedu: torch {torch.__version__} on {name} (seed {seed}, {n} thread{'' if n == 1 else 's'})")
    return device
