"""Which device a run uses: :func:`resolve_device`, the one parser of ``--device`` / ``device=``.

Every training entry point of the library (``glt run``, ``mlp --train``, ``metaprune
train|prune`` and their Python functions) takes ``device``: ``"auto"`` (CUDA when available,
else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``, or a ``torch.device``. Asking for a device
that is not there fails at once with the devices that are. :func:`machine_label` is what result
rows record about the machine that produced them.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

__all__ = ["DEVICE_CHOICES", "available_devices", "cpu_model", "machine_label", "model_device",
           "resolve_device"]

#: The spellings ``device`` accepts besides ``"cuda:N"`` and a ``torch.device``.
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def available_devices() -> list[str]:
    """``["cpu", "cuda:0", ...]``: the devices this process can use."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return ["cpu"] + [f"cuda:{i}" for i in range(count)]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The ``torch.device`` that ``device`` names, checked against what is available.

    Args:
        device: ``"auto"`` or None (CUDA device 0 when CUDA is available, else CPU), ``"cpu"``,
            ``"cuda"`` (the current CUDA device), ``"cuda:N"`` or a ``torch.device``.

    Raises:
        ValueError: an unknown spelling, or a CUDA device this process does not have (the
            message lists the available devices).
        TypeError: ``device`` is not a str, ``torch.device`` or None.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device("auto").type in ("cpu", "cuda")
        True
    """
    if device is None or device == "auto":
        return torch.device("cuda", torch.cuda.current_device()) \
            if torch.cuda.is_available() else torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)} or cuda:N, "
                         f"got {device!r}") from None
    if resolved.type == "cpu":
        return torch.device("cpu")
    if resolved.type != "cuda":
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)} or cuda:N, "
                         f"got {device!r}")
    available = available_devices()
    if not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for CUDA, but CUDA is not available "
                         f"here (available: {', '.join(available)})")
    index = torch.cuda.current_device() if resolved.index is None else resolved.index
    if index >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r} does not exist (available: "
                         f"{', '.join(available)})")
    return torch.device("cuda", index)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (else first buffer); CPU for a module without
    tensors.

    >>> model_device(torch.nn.Linear(2, 2))
    device(type='cpu')
    """
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (falls back to platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_label(device: str | torch.device = "cpu") -> str:
    """What a result row records about the machine that produced it: CPU model, cores, torch
    threads and, for a CUDA device, the GPU's name.

    >>> machine_label().count("cores") == 1
    True
    """
    label = f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    device = torch.device(device)
    if device.type == "cuda":
        label += f", {torch.cuda.get_device_name(device)}"
    return label
