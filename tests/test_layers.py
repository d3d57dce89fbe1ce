"""The layer rule, walked with `ast` over every module of scanner/:

- a stage imports only the kernel and earlier stages, never a later one (road order below);
- the kernel imports no stage;
- only aws_session.py imports boto3/botocore at module level (elsewhere: inside functions,
  so that a scan without --verify never loads them).

Every import counts, lazy ones too (a function-level import is still a dependency); imports
under `if TYPE_CHECKING:` count for the layer rule, not for the boto3 rule (they never run).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SCANNER = Path(__file__).resolve().parents[1] / "scanner"
KERNEL = frozenset({"model", "errors", "redact", "aws_session", "testing"})
ROAD = ("sources", "detection", "pairing", "silencing", "pipeline", "verification", "investigation", "revocation",
        "reports")
FRONTS = frozenset({"cli", "integrations", "org", "__main__"})  # the last layer: may import everything
BOTO = frozenset({"boto3", "botocore"})
BOTO_HOME = frozenset({"aws_session"})


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.why}"


def rank(stage: str) -> int:
    if stage in KERNEL:
        return 0
    if stage in ROAD:
        return 1 + ROAD.index(stage)
    if stage in FRONTS:
        return 1 + len(ROAD)
    raise KeyError(stage)


def stage_of(module: str, package: str) -> str | None:
    """'scanner.detection.rules' -> 'detection'; 'scanner' itself is kernel (its __version__)."""
    parts = module.split(".")
    if parts[0] != package:
        return None
    return parts[1] if len(parts) > 1 else "model"


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module, module: str, is_package: bool) -> list[tuple[ast.stmt, str, bool]]:
    """(node, imported module, runs at import time) for every import in the module."""
    found: list[tuple[ast.stmt, str, bool]] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((child, alias.name, top_level) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".")[: len(module.split(".")) - child.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.extend((child, f"{base}.{alias.name}", top_level) for alias in child.names)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), top_level)
            else:
                visit(child, top_level)

    visit(tree, True)
    return found


def check_tree(root: Path) -> list[Violation]:
    """Every layer-rule and boto3-rule violation in the package at `root`."""
    package = root.name
    violations: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        own = stage_of(module, package) or "model"
        if module == package:
            own = "model"
        try:
            own_rank = rank(own)
        except KeyError:
            violations.append(Violation(module, 1, module, f"{own!r} is in no layer (add it to tests/test_layers.py)"))
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, imported, top_level in _imports(tree, module, path.name == "__init__.py"):
            top = imported.split(".")[0]
            if top in BOTO and top_level and own not in BOTO_HOME:
                violations.append(Violation(module, node.lineno, imported,
                                            "boto3/botocore at module level outside aws_session.py"))
            target = stage_of(imported, package)
            if target is None or target == own:
                continue
            try:
                target_rank = rank(target)
            except KeyError:
                continue  # `from scanner import __version__` and the like: names, not stages
            if own_rank == 0 and target_rank > 0:
                violations.append(Violation(module, node.lineno, imported, f"the kernel ({own}) imports a stage"))
            elif target_rank > own_rank:
                violations.append(Violation(module, node.lineno, imported,
                                            f"stage {own} imports {target}, a later stage"))
    return violations


def test_scanner_follows_the_layer_rule() -> None:
    violations = check_tree(SCANNER)
    assert not violations, "\n".join(map(str, violations))


def test_every_folder_and_top_module_of_scanner_is_in_a_layer() -> None:
    names = {p.stem for p in SCANNER.iterdir() if (p.suffix == ".py" or p.is_dir()) and p.name != "__pycache__"}
    names -= {"__init__", "rules", "hooks"}  # rules/ and hooks/ appear inside a wheel: data, not code
    for name in names:
        rank(name)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "scanner"
    for name, text in {"__init__.py": "", **files}.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(("files", "expected"), [
    ({"detection/__init__.py": "", "detection/rules.py": "from scanner.pipeline import run_scan\n",
      "pipeline.py": ""}, "stage detection imports pipeline, a later stage"),
    ({"sources/__init__.py": "", "sources/files.py": "def f():\n    from scanner.reports import render\n",
      "reports/__init__.py": ""}, "stage sources imports reports, a later stage"),
    ({"model.py": "from scanner import pairing\n", "pairing.py": ""}, "the kernel (model) imports a stage"),
    ({"testing/__init__.py": "", "testing/fakes.py": "from ..detection import rules\n", "detection/__init__.py": "",
      "detection/rules.py": ""}, "the kernel (testing) imports a stage"),
    ({"verification/__init__.py": "", "verification/sts.py": "import boto3\n"},
     "boto3/botocore at module level outside aws_session.py"),
    ({"reports/__init__.py": "", "reports/x.py": "from botocore.exceptions import ClientError\n"},
     "boto3/botocore at module level outside aws_session.py"),
    ({"newstage.py": ""}, "'newstage' is in no layer"),
], ids=["later-stage", "lazy-later-stage", "kernel-imports-stage", "relative-import", "boto3", "botocore",
        "unplaced-module"])
def test_the_checker_fails_on_a_wrong_import(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    violations = check_tree(_package(tmp_path, files))
    assert [v.why for v in violations if expected in v.why], violations


def test_the_checker_accepts_what_the_rule_allows(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "aws_session.py": "import boto3\nfrom scanner.model import Chunk\n",
        "model.py": "from scanner.errors import StsleakError\n",
        "errors.py": "",
        "pipeline.py": "from scanner.sources import x\nfrom scanner import pairing\nfrom scanner.silencing import m\n",
        "sources/__init__.py": "from scanner.sources.git import run\n",
        "verification/__init__.py": "def verify():\n    import boto3\n",
        "reports/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import botocore\n",
        "cli/__init__.py": "from scanner.revocation import plan\nfrom scanner import __version__\n",
    })
    assert check_tree(root) == []
