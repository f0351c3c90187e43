"""Load the shipped code sets (mis/codesets.py) that code-valued columns are checked against."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from steward.mis.codesets import sync_code_sets

    sync_code_sets(apps)


class Migration(migrations.Migration):
    dependencies = [("mis", "0003_widen_code")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
