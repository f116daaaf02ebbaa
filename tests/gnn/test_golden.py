"""Behaviour pin: the golden sweep (tests/gnn/golden/make_golden.py) gives the committed rows
and config, every field but the timing ones equal to the bit (JSON floats round-trip exactly).
The config is compared by the sweep's own rule: a key the stored config lacks (added later
with a default, e.g. ``method_options``) equals its default; so is a row field added later
(``rows.ROW_DEFAULTS``, e.g. ``device``)."""

from __future__ import annotations

import json

from graphsparse.gnn.experiment.sweep import (
    TIMING_FIELDS,
    config_differences,
    read_rows,
    row_key,
)
from graphsparse.gnn.experiment.rows import with_defaults
from tests.gnn.golden.make_golden import GOLDEN_DIR, run_golden_sweep


def _untimed(rows):
    return {row_key(r): {k: v for k, v in with_defaults(r).items() if k not in TIMING_FIELDS}
            for r in rows}


def test_golden_sweep_rows_and_config_unchanged(tmp_path):
    rows = run_golden_sweep(tmp_path)
    golden = read_rows(GOLDEN_DIR)
    assert len(rows) == len(golden) == 2 * (1 + 4 * 3)
    assert [row_key(r) for r in rows] == [row_key(r) for r in golden]
    assert _untimed(rows) == _untimed(golden)
    stored = json.loads((GOLDEN_DIR / "config.json").read_text())
    assert config_differences(stored, json.loads((tmp_path / "config.json").read_text())) == []
