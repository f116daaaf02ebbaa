"""What every benchmark records about the machine it ran on."""

from __future__ import annotations

import os

from graphsparse.devices import cpu_model  # noqa: F401  (re-exported for the benchmarks)


def cores() -> int | None:
    return os.cpu_count()
