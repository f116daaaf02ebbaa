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


ROOT = DOCS.parent
ARCHITECTURE = DOCS / "architecture.md"


def _named_modules(text: str) -> set[str]:
    return set(re.findall(r"`(graphsparse(?:\.\w+)*)`", text))


def _package_modules() -> set[str]:
    names = set()
    for path in (ROOT / "graphsparse").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] in ("__main__", "conftest"):
            continue
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_architecture_names_only_existing_modules():
    """Every `graphsparse.…` name in docs/architecture.md is a module of the package."""
    named = _named_modules(ARCHITECTURE.read_text())
    assert named, "docs/architecture.md names no module"
    missing = sorted(named - _package_modules())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_architecture_maps_every_module():
    """The package map has a line for every module (so it stays the map when code moves)."""
    unmapped = sorted(_package_modules() - _named_modules(ARCHITECTURE.read_text()))
    assert not unmapped, f"docs/architecture.md does not map: {unmapped}"
