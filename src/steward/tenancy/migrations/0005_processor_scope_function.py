from django.db import migrations

from steward.tenancy.rls import PROCESSOR_SCOPE_FUNCTION


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0004_tenant_school_unindexed")]

    operations = [
        migrations.RunSQL(PROCESSOR_SCOPE_FUNCTION, "DROP FUNCTION IF EXISTS steward_processor_scope()"),
    ]
