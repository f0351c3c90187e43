from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class CoreConfig(AppConfig):
    name = "steward.core"
    label = "core"

    def ready(self) -> None:
        from steward.core import replicas  # noqa: F401 - connects its signal before any connection opens

        pre_migrate.connect(_route_to_owner, sender=self)
        post_migrate.connect(_grant_after_migrate, sender=self)
        from django.core import checks

        from steward.core.readiness import check_restored_database

        checks.register(check_restored_database, checks.Tags.database)


def _route_to_owner(**kwargs: Any) -> None:
    from steward.core.routers import set_migrating

    set_migrating(True)


def _grant_after_migrate(using: str, **kwargs: Any) -> None:
    """Re-apply the app role's grants after every migration run (new tables, append-only rules)."""
    from django.db import connections

    from steward.core.database import grant_app_privileges
    from steward.core.routers import set_migrating

    set_migrating(False)
    with connections[using].cursor() as cursor:
        grant_app_privileges(cursor)
