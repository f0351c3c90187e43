"""Secrets made once on a machine that has none configured (outside production), kept under var/.

The Django secret key, the embedded server's password, the data key and the OpenID Connect signing
key are each made the first time one is needed. Processes often start together (the dated test
runs, a server and its task worker, two `make` targets), so a plain "if missing, write" lets one
process read a half-written file or fail on another's. Here each process writes its own candidate
(0600 from the first byte) and links it into place only if the name is still free; whoever loses
uses the winner's file, so every process ends up with the one secret.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def read_or_make(path: Path, make: Callable[[], bytes]) -> str:
    """The secret in `path`, made with `make()` if there is none yet; the same in every process."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(make())
            with contextlib.suppress(FileExistsError):  # another process linked its secret first
                os.link(candidate, path)
        finally:
            candidate.unlink()
    return path.read_text().strip()
