"""Re-sync the register: the category of Steward users' marketing preferences (consents app)."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from steward.register.catalogue import sync_catalogue

    sync_catalogue(apps)


class Migration(migrations.Migration):
    dependencies = [("register", "0004_notice_version")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
