from __future__ import annotations

import random
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support import cli
from tests.support.cli import GitRepo

# Tests in tiers (docs/design.md): the folder decides. Everything in these folders starts a process (the CLI
# as a child, git daemon, pre-commit, bench/run.py), a server (moto, the CloudTrail emulator, Dask), a browser
# or installs a package, and is marked `e2e`; `pytest -m "not e2e"` is the fast tier.
E2E_FOLDERS = {"aws", "bench", "cli", "hostile", "integrations", "investigation", "org", "ux"}
# In-process tests (real git repos in temp dirs allowed, the CLI through stsleak_in_process): the fast tier,
# with the files directly in tests/.
FAST_FOLDERS = {"revocation"}
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(item.path).resolve().relative_to(TESTS).parts
        folder = parts[0] if len(parts) > 1 else ""
        if folder in E2E_FOLDERS:
            item.add_marker(pytest.mark.e2e)
        elif folder and folder not in FAST_FOLDERS:
            raise pytest.UsageError(f"tests/{folder}/ has no tier: add it to E2E_FOLDERS or FAST_FOLDERS in "
                                    "tests/conftest.py")


@pytest.fixture(autouse=True)
def _fast_tier_starts_no_cli_child(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("e2e") is None:
        monkeypatch.setattr(cli, "CHILD_ALLOWED", False)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    return random.Random(request.node.nodeid)


@pytest.fixture
def creds(rng: random.Random) -> fakes.FakeCredentials:
    """A fake temporary credential set generated at run time."""
    return fakes.temporary(rng)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")
