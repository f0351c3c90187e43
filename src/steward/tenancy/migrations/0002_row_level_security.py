from django.db import migrations

from steward.tenancy.rls import CURRENT_SCHOOL_IDS_FUNCTION, EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]

    operations = [
        migrations.RunSQL(CURRENT_SCHOOL_IDS_FUNCTION, "DROP FUNCTION IF EXISTS steward_current_school_ids()"),
        EnableTenantRLS("dataprotectioncontact"),
    ]
