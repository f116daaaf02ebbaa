"""Test-suite settings shared by every test module.

Determinism claims ("same seed → identical masks") are checked at a fixed intra-op thread count,
which is set here and printed in the pytest header.
"""

import os

import torch
from hypothesis import settings

TEST_THREADS = 2
torch.set_num_threads(TEST_THREADS)

settings.register_profile("default", deadline=None, max_examples=60, derandomize=True)
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_report_header(config):
    return (f"graphsparse tests: torch {torch.__version__}, intra-op threads "
            f"{torch.get_num_threads()} (fixed for determinism checks)")
