"""The private key set on disk: permission check, loading, generation and rotation.

The private JWKS must be readable by its owner only (mode 0600 or 0400); the receiver refuses
to start otherwise. ``receiver keys generate`` writes ``receiver.private.jwks.json`` (0600)
and ``receiver.public.jwks.json`` (the set that senders configure); ``--append`` adds a key
with a new kid to an existing set, which is how keys are rotated.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from telemetry_service.wire import Decryptor, KeySetError, generate_key_pair, load_jwks

from .errors import StartupError

__all__ = [
    "PRIVATE_FILE",
    "PUBLIC_FILE",
    "KeyFiles",
    "check_private_key_file",
    "load_decryptor",
    "write_key_files",
]

PRIVATE_FILE = "receiver.private.jwks.json"
PUBLIC_FILE = "receiver.public.jwks.json"


class KeyFiles(NamedTuple):
    """Paths written by :func:`write_key_files` and the kids of the private set."""

    private: Path
    public: Path
    kids: tuple[str, ...]


def check_private_key_file(path: Path) -> None:
    """Raise :class:`StartupError` unless `path` is a regular file only its owner can read,
    owned by this process's user (or root)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise StartupError(f"cannot read the private key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise StartupError(f"the private key file {path} is not a regular file")
    if info.st_uid not in (os.geteuid(), 0):
        raise StartupError(
            f"the private key file {path} belongs to another user (uid {info.st_uid}); "
            f"run: chown {os.geteuid()} {path}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise StartupError(
            f"the private key file {path} is readable or writable by group or others "
            f"(mode {mode:04o}); run: chmod 600 {path}"
        )


def load_decryptor(path: Path, *, max_input_bytes: int, max_inflated_bytes: int) -> Decryptor:
    """Check the file's mode, then load its keys into a :class:`Decryptor`."""
    check_private_key_file(path)
    try:
        return Decryptor(
            path, max_input_bytes=max_input_bytes, max_inflated_bytes=max_inflated_bytes
        )
    except KeySetError as exc:
        raise StartupError(f"the private key file {path}: {exc}") from None


def write_key_files(
    out_dir: Path, kid: str, *, alg: str = "RSA-OAEP", bits: int = 2048, append: bool = False
) -> KeyFiles:
    """Generate a key pair named `kid` and write the private and public sets into `out_dir`.

    An existing private set is only extended with ``append=True`` (key rotation); its kids
    must not include `kid`. The private file is created with mode 0600, and `out_dir`, when
    it does not exist, with mode 0700.
    """
    private_path, public_path = out_dir / PRIVATE_FILE, out_dir / PUBLIC_FILE
    keys: list[dict[str, Any]] = []
    if private_path.exists():
        if not append:
            raise StartupError(f"{private_path} exists; pass --append to add a key for rotation")
        check_private_key_file(private_path)
        try:
            keys = load_jwks(private_path, private=True)["keys"]
        except KeySetError as exc:
            raise StartupError(f"{private_path}: {exc}") from None
        if any(key["kid"] == kid for key in keys):
            raise StartupError(f"{private_path} already holds a key with kid {kid!r}")
    try:
        pair = generate_key_pair(kid, alg=alg, bits=bits)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    private_set = {"keys": [*keys, *pair.private_jwks["keys"]]}
    public_set = load_jwks(private_set, private=False)
    if not out_dir.exists():
        out_dir.mkdir(mode=0o700, parents=True)
        out_dir.chmod(0o700)  # whatever the umask
    _write_atomic(private_path, orjson.dumps(private_set, option=orjson.OPT_INDENT_2), 0o600)
    _write_atomic(public_path, orjson.dumps(public_set, option=orjson.OPT_INDENT_2), 0o644)
    return KeyFiles(private_path, public_path, tuple(k["kid"] for k in private_set["keys"]))


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a new file with `mode` (never wider, whatever the umask), then rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.fchmod(fd, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
