"""The one timing method of every benchmark in this project.

Method:

* **Pinned settings** (:func:`pin`, first thing in ``main``): torch's intra-op threads (default
  1) and, if still possible, its inter-op threads; glibc's allocator thresholds
  ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` (default 1 GiB) set at run time through
  ``mallopt``, so tensors are not mapped and unmapped, and freed memory not handed back, at
  every call. With glibc's defaults the dense per-edge GCN forward on Cora swings between 15
  and 33 ms from run to run; pinned it is stable. (The variable ``MALLOC_MMAP_THRESHOLD_``
  acts only at process start; it is recorded beside what ``mallopt`` set.)
* **Interleaved arms in one process** (:func:`compare`): warm-up calls of every arm (not timed),
  then ``repeats`` rounds (>= 5 by default), each calling every arm once in a rotating order
  (round ``r`` starts at arm ``r mod n``), so slow drift (load, clocks, allocator state) falls
  on every arm alike and no arm always runs first. A sample is the mean of ``inner``
  consecutive calls, timed with :func:`time.perf_counter`. Per-batch figures
  (:func:`time_batches`) time each of >= 50 batches after a few warm-up batches.
* **Statistics** (:class:`Timing`): min, median, max and ``spread = (max - min) / median`` (the
  whole range, relative to the median) of the samples. The min is the figure to report: noise
  only ever adds time.
* **Speed-ups** (:func:`ratio`): ``baseline.min / other.min`` — every speed-up is against the
  fastest run of the baseline.
* **Environment** (:func:`environment`, :func:`header_line`): date, CPU, versions, threads,
  allocator settings and load average, recorded at the start and at the end of a benchmark
  (both load averages go into the results; a high one marks a run to repeat).

Timings are CPU wall-clock: on an accelerator an arm must synchronise before it returns.

Example (a benchmark's skeleton; benchmarks run as scripts, so ``_timing`` imports directly)::

    from _timing import compare, environment, header_line, pin, ratio

    pin(threads=1)
    start = environment()
    print(header_line(start))
    timings = compare({"plain": run_plain, "masked": run_masked}, repeats=7, warmup=2)
    end = environment()
    print(f"masked vs plain: {ratio(timings['plain'], timings['masked']):.2f}x")
    record = {"start": start, "end": end, **{k: t.to_dict() for k, t in timings.items()}}
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from _machine import cores, cpu_model
from graphsparse.checks import check_int

__all__ = ["Timing", "compare", "environment", "header_line", "measured_line", "pin", "ratio",
           "time_batches"]

# mallopt parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Environment variables that change threads or the allocator; recorded by :func:`environment`.
_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_",
             "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")

_pinned: dict[str, Any] | None = None  # what the last pin() set


@dataclass(frozen=True)
class Timing:
    """The timed samples of one arm, in seconds, and their statistics.

    Attributes:
        samples: seconds per call, one per repeat (round) or batch, in the order taken; each is
            the mean of ``inner`` calls.
        inner: calls averaged into each sample.
    """

    samples: tuple[float, ...]
    inner: int = 1

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("samples is empty: a Timing needs at least one sample")
        object.__setattr__(self, "samples", tuple(float(s) for s in self.samples))

    @property
    def repeats(self) -> int:
        """Number of samples."""
        return len(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    @property
    def spread(self) -> float:
        """``(max - min) / median``: the whole range of the samples relative to the median."""
        median = self.median
        return (self.max - self.min) / median if median > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``samples`` (list), ``min``, ``median``, ``max``, ``spread``, ``repeats``,
        ``inner``; times in seconds."""
        return {"samples": list(self.samples), "min": self.min, "median": self.median,
                "max": self.max, "spread": self.spread, "repeats": self.repeats,
                "inner": self.inner}

    def __str__(self) -> str:
        return (f"min {self.min * 1e3:.3f} ms, median {self.median * 1e3:.3f} ms, "
                f"spread {self.spread:.1%} ({self.repeats} samples)")


def _timed(call: Callable[[], object], inner: int) -> float:
    """Mean seconds of ``inner`` consecutive calls."""
    start = time.perf_counter()
    for _ in range(inner):
        call()
    return (time.perf_counter() - start) / inner


def compare(arms: Mapping[str, Callable[[], object]], *, repeats: int = 5, warmup: int = 1,
            inner: int = 1) -> dict[str, Timing]:
    """Time ``arms`` interleaved in this process (see the module documentation).

    Args:
        arms: ``{name: callable}``, non-empty; each callable takes no argument.
        repeats: rounds (int >= 1; >= 5 for any figure that is reported); each round calls
            every arm once, round ``r`` starting at arm ``r mod len(arms)``.
        warmup: untimed rounds before (int >= 0), every arm once each, in the given order.
        inner: calls per sample (int >= 1); the sample is their mean.

    Returns:
        ``{name: Timing}`` in the order of ``arms``.

    Raises:
        ValueError: empty ``arms``, ``repeats`` or ``inner`` < 1, ``warmup`` < 0.
        TypeError: an arm that is not callable, a non-int count.
    """
    if not isinstance(arms, Mapping):
        raise TypeError(f"arms must be a mapping {{name: callable}}, got {type(arms).__name__}")
    if not arms:
        raise ValueError("arms is empty: compare needs at least one {name: callable} arm")
    for name, arm in arms.items():
        if not callable(arm):
            raise TypeError(f"arms[{name!r}] must be callable, got {type(arm).__name__}")
    check_int(repeats, "repeats", low=1)
    check_int(warmup, "warmup", low=0)
    check_int(inner, "inner", low=1)
    names = list(arms)
    for _ in range(warmup):
        for name in names:
            arms[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        first = round_index % len(names)
        for name in names[first:] + names[:first]:
            samples[name].append(_timed(arms[name], inner))
    return {name: Timing(tuple(samples[name]), inner) for name in names}


def time_batches(step: Callable[[int], object], *, batches: int = 50,
                 warmup: int = 3) -> Timing:
    """Per-batch times: ``step(i)`` for ``i < warmup`` untimed, then each of ``step(0)``, ...,
    ``step(batches - 1)`` timed on its own (one sample per batch).

    Args:
        step: one batch (or epoch) of work; takes the batch index.
        batches: timed batches (int >= 1; >= 50 for a reported per-epoch figure).
        warmup: untimed batches first (int >= 0).

    Returns:
        A :class:`Timing` with one sample per batch.

    Raises:
        ValueError: ``batches`` < 1 or ``warmup`` < 0. TypeError: ``step`` not callable.
    """
    if not callable(step):
        raise TypeError(f"step must be callable, got {type(step).__name__}")
    check_int(batches, "batches", low=1)
    check_int(warmup, "warmup", low=0)
    for index in range(warmup):
        step(index)
    samples = []
    for index in range(batches):
        start = time.perf_counter()
        step(index)
        samples.append(time.perf_counter() - start)
    return Timing(tuple(samples))


def ratio(baseline: Timing, other: Timing) -> float:
    """Speed-up of ``other`` over ``baseline``: ``baseline.min / other.min`` (> 1: ``other`` is
    faster). Every speed-up of the project is this one: against the baseline's fastest run."""
    for name, value in (("baseline", baseline), ("other", other)):
        if not isinstance(value, Timing):
            raise TypeError(f"{name} must be a Timing, got {type(value).__name__}")
    if other.min <= 0:
        raise ValueError(f"other must have a positive minimum time, got {other.min!r}")
    return baseline.min / other.min


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt(param, value) -> 1 on success``, or None off glibc."""
    if platform.system() != "Linux" or not platform.libc_ver()[0].startswith("glibc"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        function = libc.mallopt
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return function


def pin(threads: int = 1, *, mmap_threshold: int = 1 << 30) -> dict[str, Any]:
    """Pin the settings timings depend on; print them and return what was set.

    Sets ``torch.set_num_threads(threads)``; ``torch.set_num_interop_threads(threads)`` unless
    it already has that value (torch refuses it once inter-op work has started or it was set:
    then it is left as is and recorded, with the reason); glibc's ``M_MMAP_THRESHOLD`` and
    ``M_TRIM_THRESHOLD`` to ``mmap_threshold`` bytes through ``mallopt`` (effective at once, unlike
    ``MALLOC_MMAP_THRESHOLD_``, which is read only at process start and is recorded too). Call it
    first, before any timed work. :func:`environment` reports the result.

    Args:
        threads: intra- and inter-op threads (int >= 1).
        mmap_threshold: bytes (int in ``[0, 2**31 - 1]``): allocations below it come from the
            heap, and the heap is not trimmed below it.

    Returns:
        ``{"threads", "interop_threads", "interop_pinned", "interop_note", "allocator"}`` where
        ``allocator`` is ``{"mmap_threshold", "trim_threshold", "mallopt", "env"}``: the values
        requested, whether ``mallopt`` accepted both (None off glibc) and the allocator's
        environment variables (None when unset).
    """
    global _pinned
    check_int(threads, "threads", low=1)
    check_int(mmap_threshold, "mmap_threshold", low=0, high=2**31 - 1)
    torch.set_num_threads(threads)
    interop_pinned, interop_note = True, ""
    if torch.get_num_interop_threads() != threads:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError as error:  # inter-op work has started, or it was set already
            interop_pinned, interop_note = False, str(error).strip().splitlines()[0]
    mallopt = _mallopt()
    accepted = None
    if mallopt is not None:
        accepted = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) \
            and bool(mallopt(_M_TRIM_THRESHOLD, mmap_threshold))
    _pinned = {
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "interop_pinned": interop_pinned,
        "interop_note": interop_note,
        "allocator": {"mmap_threshold": mmap_threshold, "trim_threshold": mmap_threshold,
                      "mallopt": accepted,
                      "env": {k: os.environ.get(k) for k in _ENV_VARS if k.startswith("MALLOC")}},
    }
    print(f"pinned: {_settings_text(_pinned['threads'], _pinned['interop_threads'], _pinned)}",
          flush=True)
    return dict(_pinned)


def _bytes_text(value: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size and value % size == 0:
            return f"{value // size} {unit}"
    return f"{value} B"


def _settings_text(threads: int, interop_threads: int, pinned: dict[str, Any] | None) -> str:
    """Threads and allocator settings in words."""
    text = f"{threads} thread{'s' * (threads != 1)}, {interop_threads} interop"
    if pinned is None:
        return text + " (not pinned), allocator defaults"
    allocator = pinned["allocator"]
    how = {True: "mallopt", False: "mallopt refused", None: "not glibc: unchanged"}
    env = ", ".join(f"{k}={v}" for k, v in allocator["env"].items() if v is not None)
    return (text + ("" if pinned["interop_pinned"] else " (interop could not be pinned)")
            + f", malloc mmap/trim threshold {_bytes_text(allocator['mmap_threshold'])} "
            f"({how[allocator['mallopt']]})" + (f", env {env}" if env else ""))


def environment() -> dict[str, Any]:
    """What a results table's header records; call it at a benchmark's start and end.

    Returns:
        ``date`` (UTC, ISO 8601), ``cpu``, ``cores``, ``python``, ``torch``, ``threads``,
        ``interop_threads``, ``pinned`` (what :func:`pin` set, None if it was not called),
        ``env`` (thread and allocator variables, None when unset) and ``loadavg`` (1, 5 and 15
        minute load averages now).
    """
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": cores(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "pinned": None if _pinned is None else dict(_pinned),
        "env": {k: os.environ.get(k) for k in _ENV_VARS},
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def header_line(env: Mapping[str, Any]) -> str:
    """``env`` (from :func:`environment`) as one line for a results table's header (no ``|``,
    so it is safe inside markdown).

    Example: ``2026-12-04T16:52:12+00:00; Intel(R) Xeon(R) ... (2 cores); Python 3.11.2;
    torch 2.13.0+cpu; 1 thread, 1 interop, malloc mmap/trim threshold 1 GiB (mallopt);
    load 0.52 0.61 0.70``.
    """
    load = " ".join(f"{x:.2f}" for x in env["loadavg"])
    return (f"{env['date']}; {env['cpu']} ({env['cores']} cores); Python {env['python']}; "
            f"torch {env['torch']}; "
            f"{_settings_text(env['threads'], env['interop_threads'], env['pinned'])}; "
            f"load {load}"
            ).replace("|", "/")


def measured_line(start: Mapping[str, Any], end: Mapping[str, Any] | None = None) -> str:
    """A results table's header sentence: :func:`header_line` of the environment at a run's
    start and, when given, the load average at its end (no ``|``, safe inside markdown)."""
    text = f"Measured {header_line(start)} (load average at the start)"
    if end:
        text += "; load " + " ".join(f"{x:.2f}" for x in end["loadavg"]) + " at the end"
    return text + "."

