"""Re-sync the register: parent portal sessions (`parent_user.sign_in`) are a category of their own."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from steward.register.catalogue import sync_catalogue

    sync_catalogue(apps)


class Migration(migrations.Migration):
    dependencies = [("register", "0009_noticeversion_moved_to_notices")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
