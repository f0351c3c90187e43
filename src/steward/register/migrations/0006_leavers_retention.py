"""Re-sync the register: the hosted MIS copy of a leaver's records is deleted 365 days after leaving."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from steward.register.catalogue import sync_catalogue

    sync_catalogue(apps)


class Migration(migrations.Migration):
    dependencies = [("register", "0005_consents_catalogue")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
