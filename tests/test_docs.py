"""The text around the code keeps up with it (fast: reads files only).

- docs/design.md names every folder of scanner/ (nested ones too) as `scanner/<path>/` and every
  top-level module as `scanner/<name>.py`; the lists are read from disk at run time, so a folder
  added later must get its line in design.md;
- README.md stays the front page: under 300 lines;
- every Markdown page README.md or a docs/ page links to exists.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNER = ROOT / "scanner"
DESIGN = ROOT / "docs" / "design.md"
README = ROOT / "README.md"
README_MAX_LINES = 300

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def scanner_folders() -> list[str]:
    """Every folder under scanner/, as `scanner/<path>/` (caches and hidden folders left out)."""
    folders = (path.relative_to(SCANNER) for path in SCANNER.rglob("*") if path.is_dir())
    return sorted(f"scanner/{folder.as_posix()}/" for folder in folders
                  if not any(part.startswith((".", "__")) for part in folder.parts))


def scanner_modules() -> list[str]:
    return sorted(f"scanner/{path.name}" for path in SCANNER.glob("*.py"))


def local_markdown_links(page: Path) -> list[tuple[str, Path]]:
    """(link as written, file it points to) for each relative link to a .md file."""
    links = []
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0]
        if path.endswith(".md") and "://" not in path:
            links.append((target, (page.parent / path).resolve()))
    return links


def test_the_folder_list_is_read_from_disk() -> None:
    folders = scanner_folders()
    assert "scanner/sources/" in folders and "scanner/sources/git/" in folders
    assert not any("__pycache__" in folder for folder in folders)
    assert "scanner/model.py" in scanner_modules()


def test_design_names_every_folder_and_top_level_module() -> None:
    design = DESIGN.read_text(encoding="utf-8")
    unnamed = [name for name in scanner_folders() + scanner_modules() if f"`{name}`" not in design]
    assert not unnamed, f"docs/design.md does not name (as `scanner/<path>/` or `scanner/<name>.py`): {unnamed}"


def test_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < README_MAX_LINES, f"README.md has {lines} lines; the reference belongs in docs/"


def test_readme_links_into_docs() -> None:
    docs = {path for _, path in local_markdown_links(README) if path.parent == ROOT / "docs"}
    assert len(docs) >= 3, docs


def test_every_linked_page_exists() -> None:
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    broken = [f"{page.relative_to(ROOT)}: {target}" for page in pages
              for target, path in local_markdown_links(page) if not path.is_file()]
    assert not broken, broken
