"""Backups of the whole database: `pg_dump` streamed through age encryption to a location, restored
with `pg_restore` into a fresh cluster or an empty server, and the erasure replay applied after.

Modules: `postgres` (the binaries, the source's connection, scratch clusters), `crypto` (age),
`location` (where the files go), `manifest`, `create`, `restore`, `verify`, `checks` (what runs
inside a restored database)."""


class BackupError(RuntimeError):
    """A backup, restore or verification cannot go on; the message says why in words an operator acts on."""
