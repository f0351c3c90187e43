"""Re-sync the register: hosted MIS audit events are deleted six years after the event."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from steward.register.catalogue import sync_catalogue

    sync_catalogue(apps)


class Migration(migrations.Migration):
    dependencies = [("register", "0006_leavers_retention")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
