"""Migrations run as the owner; everything else uses `default` (steward_app).

While `migrate` runs, data migrations of any app (ours or a library's) that use the ORM without
naming a database are sent to the owner too: their default connection would otherwise wait on
the owner's own table locks, and lack the rights anyway.
"""

from typing import Any

_migrating = False


def set_migrating(value: bool) -> None:
    global _migrating
    _migrating = value


class MigrateAsOwnerRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return "owner" if _migrating else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "owner" if _migrating else None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == "owner"
