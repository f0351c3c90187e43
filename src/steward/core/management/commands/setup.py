"""`steward setup`: create the database and the app role if missing, migrate as the owner, then sync
the register catalogue (a no-op unless the code changed it) so that each school's notices record a
new version for what the change altered."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from steward.core.database import ensure_database


class Command(BaseCommand):
    help = "Create the database and its roles if missing, and apply migrations (as the owner role)."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_database(settings.DATABASES["owner"]["NAME"])
        call_command("migrate", database="owner", interactive=False, verbosity=options["verbosity"])
        from steward.register.services import catalogue_sync

        catalogue_sync()
