"""age encryption of backups (`pyrage`): streamed, to public keys only the processor's key holders
can open.

The server holds recipients (public keys, `STEWARD_BACKUP_RECIPIENTS`); the identity (private key)
is given only at restore time, from a file, so a copy of the backup location and of the server
together still do not open a backup. age authenticates every 64 KiB chunk, but the restore checks
the whole file's SHA-256 first anyway, so that a damaged copy is refused before anything is written.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO, Any

import pyrage  # type: ignore[import-untyped]
from pyrage import x25519

from steward.retention.backups import BackupError


def recipients(keys: list[str]) -> list[Any]:
    if not keys:
        raise BackupError(
            "no backup recipient: set STEWARD_BACKUP_RECIPIENTS to the age public key(s) (age1...) of whoever "
            "may restore backups; the private key stays off this server"
        )
    parsed = []
    for key in keys:
        try:
            parsed.append(x25519.Recipient.from_str(key))
        except pyrage.RecipientError as error:
            raise BackupError(f"STEWARD_BACKUP_RECIPIENTS: {key[:12]}... is not an age public key ({error})") from error
    return parsed


def identity(path: Path) -> Any:
    """The age identity in `path` (the first `AGE-SECRET-KEY-1...` line; comments allowed)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise BackupError(f"cannot read the backup key file {path}: {error.strerror or error}") from error
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise BackupError(f"the backup key file {path} holds no age identity (AGE-SECRET-KEY-1...)")
    try:
        return x25519.Identity.from_str(lines[0])
    except pyrage.IdentityError as error:
        raise BackupError(f"the backup key file {path} does not hold an age identity ({error})") from error


class HashingWriter:
    """Counts and hashes what passes through to `out`: the SHA-256 of the encrypted file is known the
    moment the last byte is written, without reading the file again."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0
        # pyrage turns an exception raised by `write` into an `EncryptError` holding only its text: the
        # first one is kept here, so the caller can tell a full disk or a lost object store as such.
        self.error: Exception | None = None

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        try:
            self.out.write(data)
        except Exception as error:
            self.error = self.error or error
            raise
        return len(data)

    def flush(self) -> None:
        self.out.flush()


def encrypt_stream(source: IO[bytes], out: IO[bytes] | HashingWriter, to: list[Any]) -> None:
    pyrage.encrypt_io(source, out, to)


class _Stop(Exception):
    """Raised by the first write: the header opened, no need to read on."""


class _StopAtFirstWrite:
    def write(self, data: bytes) -> int:
        raise _Stop

    def flush(self) -> None:
        pass


def check_identity_opens(encrypted: IO[bytes], key: Any, *, name: str) -> None:
    """Refuse a key that is not one of the backup's recipients, before anything is restored: age
    names the failure at the header, so this reads only the first chunk."""
    try:
        pyrage.decrypt_io(encrypted, _StopAtFirstWrite(), [key])
    except _Stop:
        return
    except pyrage.DecryptError as error:
        raise BackupError(
            f"the key given cannot open backup {name} ({error}): it was encrypted to other public keys; "
            f"use the private key matching STEWARD_BACKUP_RECIPIENTS when the backup was taken"
        ) from error


def decrypt_stream(encrypted: IO[bytes], out: IO[bytes], key: Any, *, name: str) -> None:
    try:
        pyrage.decrypt_io(encrypted, out, [key])
    except pyrage.DecryptError as error:
        raise BackupError(f"backup {name} cannot be decrypted with the key given: {error}") from error
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            raise
        raise BackupError(f"backup {name} failed to decrypt part-way ({error}): the file is damaged") from error


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
