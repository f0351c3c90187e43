"""Backup benchmark: MB/s of `steward backup create` and of its restore, against plain `pg_dump -Fc` and
`pg_restore` of the same database in the same run.

Runs in a scratch database of its own (`steward_bench_backup`, recreated each run and dropped at the
end) loaded with part of the benchmark LA (`--schools 2` by default, a few minutes; `--full` for the
six schools of `bench/ingest.py`) through the real ingest. Measured, each against the same database:
- `backup_create` (pg_dump -Fc piped through age encryption into the folder location, hashed, synced,
  manifest written, `BackupCopy` recorded) against `pg_dump -Fc` into a file;
- the restore's data step (the file's SHA-256 check, then decrypt piped into `pg_restore`) into a fresh
  cluster, against `pg_restore` of the plain dump into a fresh cluster (each cluster made before the
  clock starts, with the app role, as the restore makes it);
- the whole `backup_restore` (initdb, start, the data step, `steward migrate` and the replay in their
  own processes, markers, stop), printed beside the plain cluster's initdb + start + pg_restore.
MB/s is the database's size (pg_database_size) over the seconds, so a ratio is a ratio of times.
Target: >= 0.7 x the plain tool's speed with encryption on. Not a timed test: it prints ratios.

Usage: python bench/backup.py [--schools 2 | --full] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["STEWARD_DB_NAME"] = "steward_bench_backup"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from pyrage import x25519  # noqa: E402

from bench.ingest import BENCH_YEAR, create_schools, steward_ingest  # noqa: E402
from steward.core import database, embedded_db  # noqa: E402
from steward.demo.synthetic import generate  # noqa: E402
from steward.retention.backups import crypto, postgres, restore  # noqa: E402
from steward.retention.backups.create import backup_create  # noqa: E402
from steward.retention.backups.location import FolderLocation  # noqa: E402
from steward.retention.models import BackupCopy  # noqa: E402

FULL_LA_SCHOOLS = 6  # bench/ingest.py's benchmark LA
MB = 1024 * 1024


def load(work: Path, schools: int, seed: int) -> None:
    name = os.environ["STEWARD_DB_NAME"]
    for alias in ("default", "owner"):
        connections[alias].close()
    database.drop_database(name)
    call_command("setup", verbosity=0)
    manifest = generate(work, schools=schools, seed=seed, formats={"csv"}, year=BENCH_YEAR, jobs=2)
    rows, seconds, _ = steward_ingest(sorted(work.glob("*.zip")), create_schools(manifest))
    print(f"backup: {schools} school(s), {rows:,} MIS rows ingested in {seconds:.1f} s", flush=True)


def database_bytes() -> int:
    with connections["owner"].cursor() as cursor:
        cursor.execute("CHECKPOINT")
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


def cluster_dir() -> Path:
    """A directory for a fresh cluster that the server's own user can reach (as root, not us)."""
    parent = Path(tempfile.mkdtemp(prefix="steward-bench-restore-"))
    if os.geteuid() == 0:
        shutil.chown(parent, user=embedded_db.SYSTEM_USER)
    return parent / "pg"


def fresh_cluster() -> tuple[postgres.Cluster, dict[str, str], float]:
    """A started cluster with the app role and an empty database, as the restore prepares one; its seconds."""
    started = time.perf_counter()
    cluster = postgres.Cluster(cluster_dir())
    cluster.init()
    cluster.start()
    restore._prepare(cluster.env(), cluster, cluster.app_password)
    return cluster, cluster.env(), time.perf_counter() - started


def plain_dump(out: Path) -> float:
    env = postgres.source_env()
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - the wheel's pg_dump, fixed arguments  # nosec B603
        [str(postgres.bin_path("pg_dump")), "--format=custom", "--no-password", f"--file={out}"],
        env=postgres.run_env(env),
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def plain_restore(dump: Path, env: dict[str, str]) -> float:
    # Readable by the server's user is not needed: pg_restore (a client) reads the file, as we do.
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - the wheel's pg_restore, fixed arguments  # nosec B603
        [str(postgres.bin_path("pg_restore")), "--no-owner", "--exit-on-error", "--no-password",
         "--dbname", env["PGDATABASE"], str(dump)],
        env=postgres.run_env(env),
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def rate(size: int, seconds: float) -> str:
    return f"{seconds:.2f} s ({size / MB / seconds:,.1f} MB/s)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=2)
    parser.add_argument("--full", action="store_true", help=f"the whole benchmark LA ({FULL_LA_SCHOOLS} schools)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    schools = FULL_LA_SCHOOLS if args.full else args.schools

    work = Path(tempfile.mkdtemp(prefix="steward-bench-backup-"))
    identity = x25519.Identity.generate()
    key_file = work / "backup-key.txt"
    key_file.write_text(f"{identity}\n")
    settings.STEWARD_BACKUP_RECIPIENTS = [str(identity.to_public())]
    settings.STEWARD_BACKUP_DIR = work / "backups"
    location = FolderLocation(work / "backups")
    clusters: list[postgres.Cluster] = []
    try:
        load(work / "la", schools, args.seed)
        size = database_bytes()
        print(f"  database: {size / MB:,.1f} MB (pg_database_size)")

        dump = work / "plain.dump"
        plain_dump(dump)  # untimed: warms the cache, so neither timed run pays for the first read
        dump.unlink()
        dump_seconds = plain_dump(dump)
        started = time.perf_counter()
        copy = backup_create(location=location)
        create_seconds = time.perf_counter() - started
        print(f"  pg_dump -Fc to a file: {rate(size, dump_seconds)}, {dump.stat().st_size / MB:,.1f} MB written")
        print(
            f"  backup create (pg_dump | age | folder, hashed, synced): {rate(size, create_seconds)}, "
            f"{copy.size_bytes / MB:,.1f} MB written"
        )
        print(f"  create ratio to pg_dump: {dump_seconds / create_seconds:.2f} (target >= 0.7)")

        cluster, env, plain_setup = fresh_cluster()
        clusters.append(cluster)
        plain_seconds = plain_restore(dump, env)
        cluster, env, _ = fresh_cluster()
        clusters.append(cluster)
        key = crypto.identity(key_file)
        started = time.perf_counter()
        restore.checked_file(copy, location)
        check_seconds = time.perf_counter() - started
        restore._pg_restore(copy, location, key, env)
        data_seconds = time.perf_counter() - started
        print(f"  pg_restore of the plain dump into a fresh cluster: {rate(size, plain_seconds)}")
        print(
            f"  restore data step (SHA-256 check {check_seconds:.2f} s, then age -d | pg_restore): "
            f"{rate(size, data_seconds)}"
        )
        print(f"  restore ratio to pg_restore: {plain_seconds / data_seconds:.2f} (target >= 0.7)")

        target = cluster_dir()
        started = time.perf_counter()
        result = restore.backup_restore(copy=copy, identity_path=key_file, target_dir=target, location=location)
        full_seconds = time.perf_counter() - started
        shutil.rmtree(target.parent, ignore_errors=True)
        plain_full = plain_setup + plain_seconds
        print(
            f"  whole backup restore (initdb, start, data step, migrate, replay of {result.replayed}, stop): "
            f"{rate(size, full_seconds)}; plain initdb + start + pg_restore {rate(size, plain_full)}; "
            f"ratio {plain_full / full_seconds:.2f}"
        )
        BackupCopy.objects.filter(pk=copy.pk).delete()
    finally:
        for cluster in clusters:
            cluster.stop()
            shutil.rmtree(cluster.datadir.parent, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        for alias in ("default", "owner"):
            connections[alias].close()
        database.drop_database(os.environ["STEWARD_DB_NAME"])


if __name__ == "__main__":
    main()
