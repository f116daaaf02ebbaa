"""benchmarks/_timing.py, the timing method of every benchmark: interleaved arms in a rotating
order, untimed warm-up, statistics on a fake clock, speed-up against the baseline's minimum,
pinned threads and allocator, the environment header and argument checks."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def timing():
    """The ``_timing`` module: benchmarks are scripts, not a package, and import ``_machine``
    from their own folder, so the folder is on ``sys.path`` while it is imported."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("_timing")
    finally:
        sys.path.remove(str(BENCHMARKS))


class FakeClock:
    """``time.perf_counter`` stand-in: time moves only when an arm advances it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(timing, monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_rounds_rotate_the_order_of_the_arms(timing):
    calls = []
    arms = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    timing.compare(arms, repeats=4, warmup=0)
    assert "".join(calls) == "abc" + "bca" + "cab" + "abc"


def test_warmup_calls_come_first_and_are_not_timed(timing, clock):
    calls = []

    def arm(name, seconds):
        def call():
            calls.append(name)
            clock.now += 100.0 if calls.count(name) <= 2 else seconds  # 2 slow warm-up calls
        return call

    result = timing.compare({"a": arm("a", 1.0), "b": arm("b", 2.0)}, repeats=3, warmup=2)
    assert "".join(calls) == "abab" + "ab" + "ba" + "ab"
    assert result["a"].samples == (1.0, 1.0, 1.0) and result["b"].samples == (2.0, 2.0, 2.0)
    assert list(result) == ["a", "b"]


def test_statistics_on_a_fake_clock(timing, clock):
    durations = iter([3.0, 1.0, 2.0, 5.0, 4.0])

    def arm():
        clock.now += next(durations)

    result = timing.compare({"a": arm}, repeats=5, warmup=0)["a"]
    assert result.samples == (3.0, 1.0, 2.0, 5.0, 4.0)
    assert (result.min, result.median, result.max, result.repeats) == (1.0, 3.0, 5.0, 5)
    assert result.spread == pytest.approx((5.0 - 1.0) / 3.0)
    record = result.to_dict()
    assert record["samples"] == [3.0, 1.0, 2.0, 5.0, 4.0] and record["spread"] == result.spread
    assert json.loads(json.dumps(record)) == record


def test_inner_calls_are_averaged_into_one_sample(timing, clock):
    durations = iter([1.0, 3.0, 2.0, 6.0])

    def arm():
        clock.now += next(durations)

    result = timing.compare({"a": arm}, repeats=2, warmup=0, inner=2)["a"]
    assert result.samples == (2.0, 4.0) and result.inner == 2


def test_time_batches(timing, clock):
    indices = []

    def step(index):
        indices.append(index)
        clock.now += 1000.0 if len(indices) <= 3 else index + 1.0

    result = timing.time_batches(step, warmup=3)
    assert indices == [0, 1, 2] + list(range(50))
    assert result.samples == tuple(float(i + 1) for i in range(50))
    assert result.repeats == 50 and result.min == 1.0 and result.median == 25.5


def test_ratio_is_against_the_fastest_baseline_run(timing):
    baseline = timing.Timing((4.0, 2.0, 9.0))
    other = timing.Timing((1.0, 0.5, 3.0))
    assert timing.ratio(baseline, other) == 4.0
    assert timing.ratio(other, baseline) == 0.25
    with pytest.raises(ValueError, match="other"):
        timing.ratio(baseline, timing.Timing((0.0, 1.0)))
    with pytest.raises(TypeError, match="baseline"):
        timing.ratio(2.0, other)


def test_pin_sets_threads_and_reports_the_allocator(timing, monkeypatch, capsys):
    settings = []
    monkeypatch.setattr(timing, "_mallopt", lambda: lambda param, value: settings.append(
        (param, value)) or 1)
    interop = []  # the real inter-op setting is once per process: keep the session's
    monkeypatch.setattr(torch, "get_num_interop_threads", lambda: 7)
    monkeypatch.setattr(torch, "set_num_interop_threads", interop.append)
    monkeypatch.setattr(timing, "_pinned", None)
    before = torch.get_num_threads()
    try:
        pinned = timing.pin(1, mmap_threshold=1 << 28)
        assert torch.get_num_threads() == 1 and pinned["threads"] == 1
    finally:
        torch.set_num_threads(before)
    assert interop == [1] and pinned["interop_pinned"]
    assert settings == [(-3, 1 << 28), (-1, 1 << 28)]
    allocator = pinned["allocator"]
    assert allocator["mmap_threshold"] == allocator["trim_threshold"] == 1 << 28
    assert allocator["mallopt"] is True and "MALLOC_MMAP_THRESHOLD_" in allocator["env"]
    assert "malloc mmap/trim threshold 256 MiB (mallopt)" in capsys.readouterr().out
    assert timing.environment()["pinned"] == pinned


def test_pin_records_an_interop_setting_it_could_not_change(timing, monkeypatch):
    def refuse(_):
        raise RuntimeError("cannot set number of interop threads after parallel work has "
                           "started")

    monkeypatch.setattr(timing, "_mallopt", lambda: None)
    monkeypatch.setattr(torch, "get_num_interop_threads", lambda: 4)
    monkeypatch.setattr(torch, "set_num_interop_threads", refuse)
    monkeypatch.setattr(timing, "_pinned", None)
    before = torch.get_num_threads()
    try:
        pinned = timing.pin(1)
    finally:
        torch.set_num_threads(before)
    assert not pinned["interop_pinned"] and "parallel work" in pinned["interop_note"]
    assert pinned["interop_threads"] == 4 and pinned["allocator"]["mallopt"] is None
    assert "interop could not be pinned" in timing.header_line(timing.environment())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_pin_in_a_fresh_process(timing):
    """The real calls: inter-op threads can be set first thing, glibc accepts the thresholds."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import _timing; "
            "print(json.dumps(_timing.pin(1)))")
    out = subprocess.run([sys.executable, "-c", code, str(BENCHMARKS)], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    pinned = json.loads(out[-1])
    assert pinned["threads"] == pinned["interop_threads"] == 1 and pinned["interop_pinned"]
    assert pinned["allocator"]["mallopt"] in (True, None)  # None: not glibc


def test_environment_and_header_line(timing, monkeypatch):
    monkeypatch.setattr(timing, "_pinned", None)
    env = timing.environment()
    assert {"date", "cpu", "cores", "python", "torch", "threads", "interop_threads", "pinned",
            "env", "loadavg"} <= set(env)
    assert env["date"].endswith("+00:00") and len(env["loadavg"]) == 3
    assert env["pinned"] is None and json.loads(json.dumps(env)) == env
    line = timing.header_line(env)
    assert "\n" not in line and "|" not in line
    assert env["cpu"] in line and f"torch {torch.__version__}" in line and "not pinned" in line


@pytest.mark.parametrize("call, error, match", [
    (lambda t: t.compare({}), ValueError, "arms is empty"),
    (lambda t: t.compare([lambda: 0]), TypeError, "arms must be a mapping"),
    (lambda t: t.compare({"a": 3}), TypeError, r"arms\['a'\] must be callable"),
    (lambda t: t.compare({"a": lambda: 0}, repeats=0), ValueError, "repeats must be an int >= 1"),
    (lambda t: t.compare({"a": lambda: 0}, warmup=-1), ValueError, "warmup must be an int >= 0"),
    (lambda t: t.compare({"a": lambda: 0}, inner=0), ValueError, "inner must be an int >= 1"),
    (lambda t: t.compare({"a": lambda: 0}, repeats=2.0), TypeError, "repeats"),
    (lambda t: t.time_batches(lambda i: 0, batches=0), ValueError, "batches must be an int >= 1"),
    (lambda t: t.time_batches(lambda i: 0, warmup=-2), ValueError, "warmup"),
    (lambda t: t.time_batches(None), TypeError, "step must be callable"),
    (lambda t: t.pin(0), ValueError, "threads must be an int >= 1"),
    (lambda t: t.pin(1, mmap_threshold=-1), ValueError, "mmap_threshold"),
    (lambda t: t.Timing(()), ValueError, "samples is empty"),
])
def test_bad_input_names_the_argument(timing, call, error, match):
    with pytest.raises(error, match=match):
        call(timing)
