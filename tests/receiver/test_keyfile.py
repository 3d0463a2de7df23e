"""Key generation, rotation and the private key file's permission check."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from telemetry_service.receiver import StartupError, check_private_key_file, write_key_files
from telemetry_service.receiver.keyfile import load_decryptor
from telemetry_service.wire import Encryptor


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_writes_a_private_0600_and_a_public_set(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even a permissive umask must not widen the private file
    try:
        files = write_key_files(tmp_path / "keys", "k1")
    finally:
        os.umask(old_umask)
    assert mode(files.private) == 0o600
    assert files.kids == ("k1",)
    private = json.loads(files.private.read_text())
    public = json.loads(files.public.read_text())
    assert [k["kid"] for k in public["keys"]] == ["k1"]
    assert "d" in private["keys"][0]
    assert "d" not in public["keys"][0]
    body = Encryptor(public, "k1").encrypt({"ok": True})
    decryptor = load_decryptor(files.private, max_input_bytes=1 << 20, max_inflated_bytes=1000)
    assert decryptor.decrypt_json(body) == {"ok": True}
    assert not list((tmp_path / "keys").glob(".*tmp"))


def test_rotation_appends_a_key_and_keeps_the_old_one(tmp_path: Path) -> None:
    first = write_key_files(tmp_path, "k1")
    old_public = json.loads(first.public.read_text())
    with pytest.raises(StartupError, match="--append"):
        write_key_files(tmp_path, "k2")
    with pytest.raises(StartupError, match="already holds"):
        write_key_files(tmp_path, "k1", append=True)
    second = write_key_files(tmp_path, "k2", alg="RSA-OAEP-256", append=True)
    assert second.kids == ("k1", "k2")
    assert mode(second.private) == 0o600
    decryptor = load_decryptor(second.private, max_input_bytes=1 << 20, max_inflated_bytes=1000)
    new_public = json.loads(second.public.read_text())
    for public, kid in ((old_public, "k1"), (new_public, "k2")):
        assert decryptor.decrypt_json(Encryptor(public, kid).encrypt([kid])) == [kid]


def test_bad_generation_parameters(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="bits"):
        write_key_files(tmp_path, "k1", bits=1024)
    with pytest.raises(StartupError, match="alg"):
        write_key_files(tmp_path, "k1", alg="RSA1_5")


@pytest.mark.parametrize("bad_mode", [0o640, 0o604, 0o660, 0o644, 0o602])
def test_group_or_world_access_is_refused(tmp_path: Path, bad_mode: int) -> None:
    files = write_key_files(tmp_path, "k1")
    files.private.chmod(bad_mode)
    with pytest.raises(StartupError, match=f"mode {bad_mode:04o}.*chmod 600"):
        check_private_key_file(files.private)


def test_owner_only_modes_are_accepted(tmp_path: Path) -> None:
    files = write_key_files(tmp_path, "k1")
    for good in (0o600, 0o400):
        files.private.chmod(good)
        check_private_key_file(files.private)


def test_missing_or_invalid_key_files(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="cannot read"):
        check_private_key_file(tmp_path / "none.json")
    with pytest.raises(StartupError, match="not a regular file"):
        check_private_key_file(tmp_path)
    public_only = write_key_files(tmp_path, "k1").public
    public_only.chmod(0o600)
    with pytest.raises(StartupError, match="private key member"):
        load_decryptor(public_only, max_input_bytes=1 << 20, max_inflated_bytes=1000)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{")
    garbage.chmod(0o600)
    with pytest.raises(StartupError, match="not valid JSON"):
        load_decryptor(garbage, max_input_bytes=1 << 20, max_inflated_bytes=1000)


def test_generate_creates_its_folder_0700_whatever_the_umask(tmp_path: Path) -> None:
    """Security review finding 11: under umask 000 the --out folder was created 0777."""
    old = os.umask(0)
    try:
        files = write_key_files(tmp_path / "new" / "keys", "k1")
    finally:
        os.umask(old)
    assert mode(tmp_path / "new" / "keys") == 0o700
    assert mode(files.private) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_key_file_of_another_user_is_refused(tmp_path: Path) -> None:
    """Security review finding 11: the start-up check looked at the mode only, not the owner."""
    path = write_key_files(tmp_path, "k1").private
    os.chown(path, 12345, -1)
    with pytest.raises(StartupError, match="belongs to another user"):
        check_private_key_file(path)
