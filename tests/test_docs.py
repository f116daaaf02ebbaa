"""Every ```python block in the docs runs, in order, in one namespace per page."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["masks.md", "topology.md", "gnn.md", "metaprune.md"]


def blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


@pytest.mark.parametrize("page", PAGES)
def test_doc_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = blocks(page)
    assert code, f"{page} has no python examples"
    namespace: dict = {}
    for i, block in enumerate(code):
        exec(compile(block, f"{page}[block {i}]", "exec"), namespace)
