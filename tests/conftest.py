from __future__ import annotations

import random
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo


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
