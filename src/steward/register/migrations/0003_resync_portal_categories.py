"""Re-sync the register: the parent portal activity now names learner photos and enrolment."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from steward.register.catalogue import sync_catalogue

    sync_catalogue(apps)


class Migration(migrations.Migration):
    dependencies = [("register", "0002_load_catalogue")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
