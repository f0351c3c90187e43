"""WAL shipping benchmark: MB/s of `wal_ship` (gzip level 1, age encryption, the folder location's
temporary name + fsync + rename, the spool file removed) against a plain copy with fsync of the same
segments into a folder, in the same run. Not in `make test` nor `make bench` (no database needed).

Segments are 16 MB like PostgreSQL's: `--busy` of them filled with random bytes (a busy server's WAL
compresses little; random is the worst case), the rest a few hundred KB of random then zeros (a segment
forced out by `archive_timeout` on a quiet server). The question answered: can one `wal-ship` a minute
keep up with the server, and how much smaller is a quiet segment once shipped.

Usage: python bench/wal_ship.py [--segments 12] [--busy 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pyrage import x25519  # type: ignore[import-untyped]  # noqa: E402

from steward.retention.backups.location import FolderLocation  # noqa: E402
from steward.retention.backups.wal import wal_ship  # noqa: E402

SEGMENT = 16 * 1024 * 1024


def _spool(folder: Path, segments: int, busy: int) -> int:
    folder.mkdir(parents=True)
    for n in range(segments):
        name = f"{1:08X}{0:08X}{n + 1:08X}"
        data = os.urandom(SEGMENT) if n < busy else os.urandom(300_000) + bytes(SEGMENT - 300_000)
        (folder / name).write_bytes(data)
    return segments * SEGMENT


def _plain_copy(spool: Path, into: Path) -> None:
    into.mkdir(parents=True)
    for path in sorted(spool.iterdir()):
        with path.open("rb") as src, (into / path.name).open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=12)
    parser.add_argument("--busy", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="steward-bench-wal-"))
    try:
        total = _spool(work / "plain-spool", args.segments, args.busy)
        shutil.copytree(work / "plain-spool", work / "spool")
        started = time.perf_counter()
        _plain_copy(work / "plain-spool", work / "plain-copy")
        plain = time.perf_counter() - started
        recipient = str(x25519.Identity.generate().to_public())
        location = FolderLocation(work / "location")
        started = time.perf_counter()
        shipped = wal_ship(spool=work / "spool", location=location, recipients=[recipient])
        ship = time.perf_counter() - started
        sizes = {p.name: p.stat().st_size for p in (work / "location" / "wal").glob("*.age")}
        mb = total / 1e6
        print(f"{len(shipped.names)} segments, {mb:.0f} MB ({args.busy} busy, {args.segments - args.busy} quiet)")
        print(f"plain copy + fsync: {plain:.2f} s ({mb / plain:.0f} MB/s)")
        print(f"wal_ship:           {ship:.2f} s ({mb / ship:.0f} MB/s), ratio {plain / ship:.2f}")
        quiet = [s for name, s in sizes.items() if int(name[16:24], 16) > args.busy]
        if quiet:
            print(f"a quiet segment shipped: {max(quiet) / 1e6:.2f} MB of {SEGMENT / 1e6:.2f} MB")
        print(f"segments a minute one wal-ship keeps up with: {60 * len(shipped.names) / ship:.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
