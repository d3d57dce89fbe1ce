"""The layer rule, walked with `ast` over every module of scanner/ (see ../shared/design.md):

- a stage imports only the kernel and earlier stages, never a later one (road order below);
- the kernel imports no stage;
- the fronts rank above the road: `integrations`, `org`, `demo` < `cli` < `__main__`, so `org`,
  `integrations` and `demo` never import `cli`, and `cli` never imports `__main__`;
- no import circle anywhere in scanner/, inside a folder included;
- argparse is imported only under scanner/cli/ (below it, options are typed values);
- no CLI command module (a value of `COMMANDS` in scanner/cli/__init__.py) imports another's;
- only aws_session.py imports boto3/botocore at module level (elsewhere: inside functions,
  so that a scan without --verify never loads them).

Every import counts, lazy ones too (a function-level import is still a dependency), and so do
imports under `if TYPE_CHECKING:` — except for the boto3 rule (they never run). The circle rule
counts them too (CIRCLES_COUNT_TYPE_CHECKING): a type-only back reference never runs, but it
still makes two modules that each need the other to be read, and hiding half of a knot under
TYPE_CHECKING is how revocation/ came to have one (plan <-> lockout, apply <-> identity_center_apply);
the way out is a leaf module holding the shared values (revocation/model.py), not a guard.

`from pkg import name` resolves to the module `pkg.name` when there is one, else to `pkg` (its
__init__); relative imports are resolved against the importing module.
"""

from __future__ import annotations

import ast
import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SCANNER = Path(__file__).resolve().parents[1] / "scanner"
KERNEL = frozenset({"model", "errors", "redact", "aws_session", "runtime", "testing"})
ROAD = ("sources", "detection", "pairing", "silencing", "pipeline", "verification", "investigation", "revocation",
        "response", "reports")
FRONTS = (frozenset({"integrations", "org", "demo"}), frozenset({"cli"}), frozenset({"__main__"}))  # low to high
BOTO = frozenset({"boto3", "botocore"})
BOTO_HOME = frozenset({"aws_session"})
ARGPARSE_HOME = "cli"
CIRCLES_COUNT_TYPE_CHECKING = True  # see the module docstring


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.why}"


@dataclass(frozen=True)
class Import:
    line: int
    name: str  # `from a.b import c` -> 'a.b.c' (c may be a name, not a module: see resolve())
    top_level: bool  # runs when the module is imported (not inside a function, not TYPE_CHECKING-only)
    type_checking: bool  # under `if TYPE_CHECKING:`: never runs


@dataclass(frozen=True)
class Module:
    name: str
    imports: tuple[Import, ...]


Modules = Mapping[str, Module]
Graph = Mapping[str, Mapping[str, int]]  # module -> imported module -> line of its first import


def rank(stage: str) -> int:
    if stage in KERNEL:
        return 0
    if stage in ROAD:
        return 1 + ROAD.index(stage)
    for height, layer in enumerate(FRONTS):
        if stage in layer:
            return 1 + len(ROAD) + height
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


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    anchor = parts[: len(parts) - node.level + (1 if is_package else 0)]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def _imports(tree: ast.Module, module: str, is_package: bool) -> list[Import]:
    """Every import in the module, with where it sits."""
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(child.lineno, alias.name, top_level, type_checking) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(child, module, is_package)
                found.extend(Import(child.lineno, f"{base}.{alias.name}", top_level, type_checking)
                             for alias in child.names)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False, type_checking)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), False, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), top_level, type_checking)
            else:
                visit(child, top_level, type_checking)

    visit(tree, True, False)
    return found


def load(root: Path) -> dict[str, Module]:
    """Every module of the package at `root`, by dotted name, with its imports."""
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        name = _module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        modules[name] = Module(name, tuple(_imports(tree, name, path.name == "__init__.py")))
    return modules


def resolve(imported: str, modules: Iterable[str]) -> str | None:
    """The module of the package an import loads: the longest dotted prefix that is a module
    ('scanner.model.Chunk' -> 'scanner.model'; 'scanner.__version__' -> 'scanner'), else None."""
    known = set(modules)
    parts = imported.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


# --- the layer rule, the boto3 rule, the argparse rule -------------------------------------------


def _own_stage(module: str, package: str) -> str:
    return "model" if module == package else stage_of(module, package) or "model"


def _layer_violation(module: str, own: str, imp: Import, package: str) -> Violation | None:
    target = stage_of(imp.name, package)
    if target is None or target == own:
        return None
    try:
        target_rank = rank(target)
    except KeyError:
        return None  # `from scanner import __version__` and the like: names, not stages
    own_rank = rank(own)
    if own_rank == 0 and target_rank > 0:
        return Violation(module, imp.line, imp.name, f"the kernel ({own}) imports a stage")
    if target_rank <= own_rank:
        return None
    if own in ROAD:
        return Violation(module, imp.line, imp.name, f"stage {own} imports {target}, a later stage")
    return Violation(module, imp.line, imp.name, f"front {own} imports {target}, a front above it")


def _rule_violations(module: str, own: str, imp: Import, package: str) -> list[Violation]:
    found: list[Violation] = []
    top = imp.name.split(".")[0]
    if top in BOTO and imp.top_level and own not in BOTO_HOME:
        found.append(Violation(module, imp.line, imp.name, "boto3/botocore at module level outside aws_session.py"))
    if top == "argparse" and own != ARGPARSE_HOME:
        found.append(Violation(module, imp.line, imp.name, "argparse outside scanner/cli/ (pass typed options)"))
    layer = _layer_violation(module, own, imp, package)
    return [*found, *([layer] if layer else [])]


def check_layers(modules: Modules, package: str) -> list[Violation]:
    """Every layer-rule, boto3-rule and argparse-rule violation."""
    violations: list[Violation] = []
    for module in modules.values():
        own = _own_stage(module.name, package)
        try:
            rank(own)
        except KeyError:
            violations.append(Violation(module.name, 1, module.name,
                                        f"{own!r} is in no layer (add it to tests/test_layers.py)"))
            continue
        for imp in module.imports:
            violations.extend(_rule_violations(module.name, own, imp, package))
    return unique(violations)


# --- no import circle ------------------------------------------------------------------------------


def import_graph(modules: Modules) -> dict[str, dict[str, int]]:
    """Module -> the modules of the package it imports (lazily and TYPE_CHECKING-only too)."""
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for module in modules.values():
        for imp in module.imports:
            counted = CIRCLES_COUNT_TYPE_CHECKING or not imp.type_checking
            target = resolve(imp.name, modules) if counted else None
            if target is not None and target != module.name:
                graph[module.name].setdefault(target, imp.line)
    return graph


def _reachable(graph: Graph, start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def _path(graph: Graph, start: str, end: str, within: set[str]) -> list[str]:
    """The shortest import path from start to end (start excluded), staying inside `within`."""
    came_from: dict[str, str] = {}
    todo = deque([start])
    while todo:
        node = todo.popleft()
        for nxt in sorted(graph[node]):
            if nxt in within and nxt not in came_from:
                came_from[nxt] = node
                todo.append(nxt)
        if end in came_from:
            break
    path = [end]
    while path[-1] != start or len(path) == 1:
        path.append(came_from[path[-1]])
    return path[-2::-1]


def _closed_walk(graph: Graph, circle: set[str]) -> list[str]:
    """A chain of imports that starts and ends at the first module and passes every module of the
    circle (for a simple circle: the circle itself)."""
    start = min(circle)
    walk = [start]
    for node in sorted(circle):
        if node not in walk:
            walk += _path(graph, walk[-1], node, circle)
    return walk + _path(graph, walk[-1], start, circle)


def circles(graph: Graph) -> list[set[str]]:
    """The import circles: each set of modules that all reach one another (one per knot)."""
    reach = {node: _reachable(graph, node) for node in graph}
    found: list[set[str]] = []
    for node in sorted(graph):
        if node in reach[node] and not any(node in circle for circle in found):
            found.append({other for other in reach[node] if node in reach[other]})
    return found


def check_circles(modules: Modules) -> list[Violation]:
    """One violation per import circle, naming it as a chain `a -> b -> a` with each import's line."""
    graph = import_graph(modules)
    violations: list[Violation] = []
    for circle in circles(graph):
        walk = _closed_walk(graph, circle)
        lines = ", ".join(f"{a}:{graph[a][b]}" for a, b in itertools.pairwise(walk))
        violations.append(Violation(walk[0], graph[walk[0]][walk[1]], walk[1],
                                    f"import circle: {' -> '.join(walk)} (imports at {lines})"))
    return violations


# --- no command imports another ------------------------------------------------------------------


def _assigned_dict(node: ast.stmt, name: str) -> ast.Dict | None:
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return None
    named = any(isinstance(t, ast.Name) and t.id == name for t in targets)
    return node.value if named and isinstance(node.value, ast.Dict) else None


def command_modules(root: Path) -> frozenset[str]:
    """The values of the `COMMANDS` dict in <root>/cli/__init__.py, read with ast (not imported);
    none when there is no such dict (test_the_commands_are_read_from_the_cli guards the real one)."""
    init = root / "cli" / "__init__.py"
    body = ast.parse(init.read_text(encoding="utf-8")).body if init.exists() else []
    for node in body:
        commands = _assigned_dict(node, "COMMANDS")
        if commands is not None:
            values = commands.values
            return frozenset(v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return frozenset()


def _command_of(module: str, commands: frozenset[str]) -> str | None:
    return next((c for c in commands if module == c or module.startswith(f"{c}.")), None)


def check_commands(modules: Modules, commands: frozenset[str]) -> list[Violation]:
    """A command module (or its package) importing another command's module."""
    violations: list[Violation] = []
    for module in modules.values():
        own = _command_of(module.name, commands)
        for imp in module.imports if own else ():
            target = resolve(imp.name, modules)
            other = _command_of(target, commands) if target else None
            if other and other != own and target:
                violations.append(Violation(module.name, imp.line, target,
                                            f"command module {own} imports another command's module {other}"))
    return unique(violations)


def unique(violations: Iterable[Violation]) -> list[Violation]:
    """One violation per import statement and reason (`from a import x, y` is one import)."""
    seen: dict[tuple[str, int, str], Violation] = {}
    for violation in violations:
        seen.setdefault((violation.module, violation.line, violation.why), violation)
    return list(seen.values())


def check_tree(root: Path) -> list[Violation]:
    """Every violation of the rules above in the package at `root`."""
    modules = load(root)
    return [*check_layers(modules, root.name), *check_circles(modules),
            *check_commands(modules, command_modules(root))]


@pytest.fixture(scope="module")
def scanner_modules() -> dict[str, Module]:
    return load(SCANNER)


def test_scanner_follows_the_layer_rule(scanner_modules: dict[str, Module]) -> None:
    violations = check_layers(scanner_modules, SCANNER.name)
    assert not violations, "\n".join(map(str, violations))


def test_scanner_has_no_import_circle(scanner_modules: dict[str, Module]) -> None:
    violations = check_circles(scanner_modules)
    assert not violations, "\n".join(map(str, violations))


def test_no_cli_command_imports_another(scanner_modules: dict[str, Module]) -> None:
    violations = check_commands(scanner_modules, command_modules(SCANNER))
    assert not violations, "\n".join(map(str, violations))


def test_every_folder_and_top_module_of_scanner_is_in_a_layer() -> None:
    names = {p.stem for p in SCANNER.iterdir() if (p.suffix == ".py" or p.is_dir()) and p.name != "__pycache__"}
    names -= {"__init__", "rules", "hooks"}  # rules/ and hooks/ appear inside a wheel: data, not code
    for name in names:
        rank(name)


def test_the_commands_are_read_from_the_cli() -> None:
    commands = command_modules(SCANNER)
    assert {"scanner.cli.scan", "scanner.cli.revoke", "scanner.cli.install_hook"} <= commands
    assert "scanner.cli.aws_args" not in commands


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "scanner"
    for name, text in {"__init__.py": "", **files}.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


CLI_COMMANDS = 'COMMANDS = {"scan": "scanner.cli.scan", "install-hook": "scanner.cli.install_hook"}\n'


@pytest.mark.parametrize(("files", "expected"), [
    ({"detection/__init__.py": "", "detection/rules.py": "from scanner.pipeline import run_scan\n",
      "pipeline.py": ""}, "stage detection imports pipeline, a later stage"),
    ({"sources/__init__.py": "", "sources/files.py": "def f():\n    from scanner.reports import render\n",
      "reports/__init__.py": ""}, "stage sources imports reports, a later stage"),
    ({"revocation/__init__.py": "", "revocation/plan.py": "from scanner.response import respond\n",
      "response.py": ""}, "stage revocation imports response, a later stage"),
    ({"model.py": "from scanner import pairing\n", "pairing.py": ""}, "the kernel (model) imports a stage"),
    ({"runtime.py": "from scanner.cli import main\n", "cli/__init__.py": ""}, "the kernel (runtime) imports a stage"),
    ({"testing/__init__.py": "", "testing/fakes.py": "from ..detection import rules\n", "detection/__init__.py": "",
      "detection/rules.py": ""}, "the kernel (testing) imports a stage"),
    ({"verification/__init__.py": "", "verification/sts.py": "import boto3\n"},
     "boto3/botocore at module level outside aws_session.py"),
    ({"reports/__init__.py": "", "reports/x.py": "from botocore.exceptions import ClientError\n"},
     "boto3/botocore at module level outside aws_session.py"),
    ({"newstage.py": ""}, "'newstage' is in no layer"),
    ({"sources/__init__.py": "", "sources/a.py": "from scanner.sources import b\n",
      "sources/b.py": "def f() -> None:\n    from scanner.sources.a import x\n"},
     "import circle: scanner.sources.a -> scanner.sources.b -> scanner.sources.a (imports at scanner.sources.a:1,"),
    ({"detection/__init__.py": "", "detection/a.py": "from . import b\n", "detection/b.py": "from .c import y\n",
      "detection/c.py": "import scanner.detection.a\n"},
     "import circle: scanner.detection.a -> scanner.detection.b -> scanner.detection.c -> scanner.detection.a"),
    ({"pairing.py": "from scanner.pipeline import run\n",
      "pipeline.py": "def f() -> None:\n    import scanner.pairing\n"},
     "import circle: scanner.pairing -> scanner.pipeline -> scanner.pairing"),
    ({"revocation/__init__.py": "", "revocation/plan.py": "from scanner.revocation.lockout import check\n",
      "revocation/lockout.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                               "    from scanner.revocation.plan import Plan\n"},
     "import circle: scanner.revocation.lockout -> scanner.revocation.plan -> scanner.revocation.lockout"),
    ({"org/__init__.py": "", "org/run.py": "from scanner.cli.aws_args import parse\n", "cli/__init__.py": "",
      "cli/aws_args.py": ""}, "front org imports cli, a front above it"),
    ({"demo/__init__.py": "def run() -> None:\n    from scanner import cli\n", "cli/__init__.py": ""},
     "front demo imports cli, a front above it"),
    ({"integrations/__init__.py": "from scanner.cli import main\n", "cli/__init__.py": ""},
     "front integrations imports cli, a front above it"),
    ({"cli/__init__.py": "from scanner import __main__\n", "__main__.py": ""}, "front cli imports __main__"),
    ({"org/__init__.py": "", "org/scan_one.py": "import argparse\n"}, "argparse outside scanner/cli/"),
    ({"revocation/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
      "    from argparse import Namespace\n"}, "argparse outside scanner/cli/"),
    ({"cli/__init__.py": CLI_COMMANDS, "cli/install_hook.py": "",
      "cli/scan.py": "def run() -> None:\n    from scanner.cli import install_hook\n"},
     "command module scanner.cli.scan imports another command's module scanner.cli.install_hook"),
    ({"cli/__init__.py": CLI_COMMANDS, "cli/scan.py": "", "cli/install_hook.py": "from .scan import run\n"},
     "command module scanner.cli.install_hook imports another command's module scanner.cli.scan"),
], ids=["later-stage", "lazy-later-stage", "revocation-imports-response", "kernel-imports-stage",
        "runtime-is-kernel", "relative-import", "boto3", "botocore", "unplaced-module", "circle-of-two-one-lazy",
        "circle-of-three-relative", "circle-across-stages", "circle-type-only-back-import",
        "org-imports-cli", "demo-imports-cli",
        "integrations-imports-cli", "cli-imports-main", "argparse-outside-cli", "argparse-type-only",
        "command-imports-command", "command-imports-command-relative"])
def test_the_checker_fails_on_a_wrong_import(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    violations = check_tree(_package(tmp_path, files))
    assert [v.why for v in violations if expected in v.why], violations


def test_a_knot_is_reported_once_as_one_chain_through_all_its_modules(tmp_path: Path) -> None:
    plan = "from scanner.revocation import lockout, managed\nfrom scanner.revocation.lockout import x\n"
    back = "def f() -> None:\n    from scanner.revocation.plan import Plan\n"
    root = _package(tmp_path, {"revocation/__init__.py": "", "revocation/plan.py": plan,
                               "revocation/lockout.py": back, "revocation/managed.py": back})
    assert [v.why.split(" (")[0] for v in check_tree(root)] == [
        "import circle: scanner.revocation.lockout -> scanner.revocation.plan -> scanner.revocation.managed"
        " -> scanner.revocation.plan -> scanner.revocation.lockout"]


def test_the_checker_accepts_what_the_rule_allows(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "aws_session.py": "import boto3\nfrom scanner.model import Chunk\n",
        "model.py": "from scanner.errors import StsleakError\n",
        "errors.py": "",
        "runtime.py": "import gc\nfrom scanner.errors import StsleakError\n",
        "pipeline.py": "from scanner.sources import x\nfrom scanner import pairing\nfrom scanner.silencing import m\n",
        "sources/__init__.py": "from scanner.sources.git import run\n",
        "sources/git.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from scanner.model import Chunk\n",
        "verification/__init__.py": "def verify():\n    import boto3\n",
        "response.py": "from scanner.revocation import plan\nfrom scanner.verification import verify\n",
        "reports/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import botocore\n"
                               "from scanner.response import respond\n",
        "org/__init__.py": "from scanner.runtime import gc\nfrom scanner.integrations import plugin\n",
        "demo/__init__.py": "from scanner.response import respond\nfrom scanner.org import run\n",
        "integrations/__init__.py": "from scanner.reports import render\n",
        "cli/__init__.py": "import argparse\nfrom scanner.revocation import plan\nfrom scanner import __version__\n"
                           + CLI_COMMANDS,
        "cli/aws_args.py": "from argparse import ArgumentParser\n",
        "cli/scan.py": "from scanner.cli import aws_args\nfrom scanner.demo import x\nfrom scanner.org import run\n",
        "cli/install_hook.py": "from scanner.cli.aws_args import parse\n",
        "__main__.py": "from scanner.cli import main\n",
    })
    assert check_tree(root) == []
