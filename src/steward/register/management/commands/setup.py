"""`steward setup`: create the database and the app role if missing, migrate as the owner, then sync
the register catalogue (a no-op unless the code changed it); the sync's `CatalogueSynced` event makes
each school's notices record a new version for what the change altered.

It lives in the register, not in core: core is the ground floor and calls no other app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from steward.core.database import ensure_database
from steward.register.services import catalogue_sync


class Command(BaseCommand):
    help = "Create the database and its roles if missing, and apply migrations (as the owner role)."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_database(settings.DATABASES["owner"]["NAME"])
        call_command("migrate", database="owner", interactive=False, verbosity=options["verbosity"])
        catalogue_sync()
