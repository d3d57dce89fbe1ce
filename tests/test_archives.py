"""Archives and compression, in files mode and in history: zip (jar, whl, Lambda packages), gzip,
tar, tar.gz, nesting, docker/OCI image tarballs, and the limits against bombs.

Archives are built in the test with the standard library from credentials generated at run time;
scans run on real files and real git repos in temp dirs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
import zlib
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.archives import scan_files, tar_of, zip_of
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import assert_json_set, assert_set, only


def _creds_file(creds: fakes.FakeCredentials, lead: int = 2) -> bytes:
    return ("# settings\n" * lead + f"AWS_ACCESS_KEY_ID={creds.access_key_id}\nAWS_SECRET_ACCESS_KEY="
            f"{creds.secret_access_key}\nAWS_SESSION_TOKEN={creds.session_token}\n").encode()


@pytest.mark.parametrize("name", ["app.zip", "lib/app.jar", "dist/pkg-1.0-py3-none-any.whl", "lambda.zip"])
def test_zip_member_path_and_line(tmp_path: Path, creds: fakes.FakeCredentials, name: str) -> None:
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(zip_of({"README": b"nothing here\n", "pkg/config/settings.py": _creds_file(creds)}))
    findings, skipped = scan_files(tmp_path)
    finding = only(findings)
    assert_set(finding, creds)
    assert finding.path.endswith(f"{name}!pkg/config/settings.py")
    assert finding.line == 3
    assert skipped == {}


@pytest.mark.parametrize(("name", "build"), [
    ("creds.env.gz", lambda data: gzip.compress(data)),
    ("backup.tar", lambda data: tar_of({"home/ci/.aws/credentials": data})),
    ("backup.tar.gz", lambda data: tar_of({"home/ci/.aws/credentials": data}, "w:gz")),
    ("backup.tgz", lambda data: tar_of({"home/ci/.aws/credentials": data}, "w:gz")),
])
def test_gzip_and_tar(tmp_path: Path, creds: fakes.FakeCredentials, name: str, build) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / name).write_bytes(build(_creds_file(creds, lead=4)))
    finding = only(scan_files(tmp_path)[0])
    assert_set(finding, creds)
    assert finding.path.endswith(name if name.endswith(".env.gz") else f"{name}!home/ci/.aws/credentials")
    assert finding.line == 5


def test_nested_archives_and_the_depth_limit(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    inner = tar_of({"deploy/.env": _creds_file(creds)}, "w:gz")
    (tmp_path / "release.zip").write_bytes(zip_of({"bundle/inner.zip": zip_of({"layer.tgz": inner})}))
    finding = only(scan_files(tmp_path)[0])
    assert_set(finding, creds)
    assert finding.path.endswith("release.zip!bundle/inner.zip!layer.tgz!deploy/.env")
    findings, skipped = scan_files(tmp_path, max_depth=2)
    assert findings == [] and skipped == {"archive-max-depth": 1}
    assert scan_files(tmp_path, max_depth=0)[0] == []  # 0: archives are not opened


def test_docker_save_image_tarball(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    """`docker save` layout: manifest.json, repositories, <layer id>/layer.tar (a tar in the tar)."""
    layer = tar_of({"etc/": b"", "app/config/prod.env": _creds_file(creds), "app/main.py": b"print('hi')\n"})
    layer_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                                                                           "diff_ids": [f"sha256:{layer_id}"]}})
    config_name = hashlib.sha256(config.encode()).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["app:latest"], "Layers": [f"{layer_id}/layer.tar"]}])
    image = tar_of({"manifest.json": manifest.encode(), config_name: config.encode(),
                  "repositories": json.dumps({"app": {"latest": layer_id}}).encode(),
                  f"{layer_id}/VERSION": b"1.0", f"{layer_id}/json": b"{}", f"{layer_id}/layer.tar": layer})
    (tmp_path / "app-image.tar").write_bytes(image)
    finding = only(scan_files(tmp_path)[0])
    assert_set(finding, creds)
    assert finding.path.endswith(f"app-image.tar!{layer_id}/layer.tar!app/config/prod.env")
    assert finding.line == 3


def test_oci_image_layout_with_gzipped_layer_blobs(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    layer = tar_of({"root/.aws/credentials": _creds_file(creds)}, "w:gz")
    digest = hashlib.sha256(layer).hexdigest()
    image = tar_of({"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": b'{"manifests": []}',
                  f"blobs/sha256/{digest}": layer})
    (tmp_path / "image.oci.tar").write_bytes(image)
    finding = only(scan_files(tmp_path)[0])
    assert finding.path.endswith(f"image.oci.tar!blobs/sha256/{digest}!root/.aws/credentials")
    assert_set(finding, creds)


def test_total_bytes_limit(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    filler = b"".join(b"line %d of the changelog\n" % i for i in range(4000))  # ~100 KB, compresses ~10x
    (tmp_path / "a.zip").write_bytes(zip_of({"CHANGES": filler, "z/settings.env": _creds_file(creds)}))
    findings, skipped = scan_files(tmp_path, max_bytes=50_000)
    assert findings == [] and skipped == {"archive-max-bytes": 1}
    assert len(scan_files(tmp_path, max_bytes=200_000)[0]) == 1


def test_zip_bomb_member_stops_at_the_ratio(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    bomb = bytes(16 << 20)  # 16 MiB of zeros deflate to ~16 KB: a ratio of ~1000
    (tmp_path / "bomb.zip").write_bytes(zip_of({"zeros.bin": bomb, "ok/.env": _creds_file(creds)}))
    findings, skipped = scan_files(tmp_path)
    assert_set(only(findings), creds)  # the bomb member is skipped, the rest still scanned
    assert skipped == {"archive-max-ratio": 1}


def test_gzip_bomb_is_streamed_and_stopped(tmp_path: Path) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    data = b"".join(compressor.compress(block) for _ in range(256)) + compressor.flush()  # 256 MiB of zeros
    (tmp_path / "bomb.gz").write_bytes(data)
    findings, skipped = scan_files(tmp_path)
    assert findings == [] and skipped == {"archive-max-ratio": 1}


def test_member_count_limit(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    members = {f"f{i}.txt": b"x\n" for i in range(6)} | {"last/.env": _creds_file(creds)}
    (tmp_path / "many.zip").write_bytes(zip_of(members))
    (tmp_path / "many.tar").write_bytes(tar_of(members))
    findings, skipped = scan_files(tmp_path, max_members=5)
    assert findings == [] and skipped == {"archive-max-members": 2}
    assert len(scan_files(tmp_path, max_members=7)[0]) == 2


def test_corrupt_encrypted_and_truncated_archives_never_crash(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    good = zip_of({"a/.env": _creds_file(creds)}, zipfile.ZIP_STORED)
    (tmp_path / "truncated.zip").write_bytes(good[: len(good) // 2])
    (tmp_path / "garbage.gz").write_bytes(b"\x1f\x8b\x08" + bytes(range(256)) * 4)
    (tmp_path / "short.tgz").write_bytes(tar_of({"x/.env": _creds_file(creds)}, "w:gz")[:60])
    at = good.rfind(b"PK\x01\x02")  # central directory entry: general-purpose flags at +8
    encrypted = good[: at + 8] + bytes([good[at + 8] | 1]) + good[at + 9:]
    (tmp_path / "locked.zip").write_bytes(encrypted)
    findings, skipped = scan_files(tmp_path)
    # The truncated zip has no central directory: its local headers are walked (bsdtar's way) and
    # the stored member before the cut is scanned (tests/test_archives_damaged.py has the rest).
    cut = only(findings)  # the cut may fall inside the token
    assert (cut.access_key_id, cut.secret) == (creds.access_key_id, creds.secret_access_key)
    assert cut.path.endswith("truncated.zip!a/.env") and (creds.session_token or "").startswith(cut.session_token or "")
    assert skipped == {"archive-corrupt": 3, "archive-encrypted": 1}


def test_history_zip_blob_committed_and_removed(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    package = zip_of({"lambda_function.py": b"def handler(event, context):\n    return 1\n",
                    "config/settings.py": _creds_file(creds)})
    commit = repo.commit("add lambda package", {"dist/lambda.zip": package, "README.md": "app\n"})
    repo.git("rm", "-q", "dist/lambda.zip")
    repo.commit("remove package")
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert run.code == 1, run.stderr
    item = only(run.json()["findings"])
    assert_json_set(item, creds)
    assert (item["path"], item["line"], item["commit"]) == ("dist/lambda.zip!config/settings.py", 3, commit)


def test_history_tar_gz_blob_and_limits_from_the_config_file(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("backup", {"backups/home.tgz": tar_of({"ci/.aws/credentials": _creds_file(creds)}, "w:gz")})
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert only(run.json()["findings"])["path"] == "backups/home.tgz!ci/.aws/credentials"
    repo.write(".stsleak.yaml", "archive_max_depth: 0\n")
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert run.code == 0 and run.json()["findings"] == [], run.stdout + run.stderr
    run = stsleak("scan", "--history", "--archive-max-depth", "4", "--format", "json", str(repo.path))
    assert run.code == 1, run.stderr  # the flag wins over the config file


def test_limit_options_and_bad_values(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / "a.zip").write_bytes(zip_of({"big.txt": b"word " * 40_000,
                                           ".env": _creds_file(creds)}))
    run = stsleak("scan", "--archive-max-bytes", "64k", "--format", "json", str(tmp_path))
    assert run.code == 0 and run.json()["stats"]["skipped"] == {"archive-max-bytes": 1}, run.stdout + run.stderr
    text = stsleak("scan", "--archive-max-bytes", "64k", str(tmp_path))
    assert "archive-max-bytes: 1" in text.stdout
    assert "max-bytes limit reached (raise it with --archive-max-bytes)" in text.stderr
    bad = stsleak("scan", "--archive-max-depth", "deep", str(tmp_path))
    assert bad.code == 2 and "not a whole number" in bad.stderr
    (tmp_path / ".stsleak.yaml").write_text("archive_max_ratio: lots\n")
    bad = stsleak("scan", str(tmp_path))
    assert bad.code == 2 and bad.stderr.startswith("stsleak: error: ") and "archive_max_ratio" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_staged_archive_reports_only_the_set_the_change_adds(repo: GitRepo, rng) -> None:  # type: ignore[no-untyped-def]
    old, new = fakes.temporary(rng), fakes.temporary(rng)
    repo.commit("package", {"dist/app.zip": zip_of({"a/.env": _creds_file(old)})})
    repo.write("dist/app.zip", zip_of({"a/.env": _creds_file(old), "b/.env": _creds_file(new)}))
    repo.git("add", "-A")
    run = stsleak("scan", "--staged", "--format", "json", cwd=repo.path)
    item = only(run.json()["findings"])
    assert_json_set(item, new)
    assert item["path"] == "dist/app.zip!b/.env"
