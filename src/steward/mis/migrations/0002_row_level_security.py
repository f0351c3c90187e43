from django.db import migrations

from steward.tenancy.rls import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("mis", "0001_initial"), ("tenancy", "0002_row_level_security")]

    operations = [
        EnableTenantRLS("schooldetails"),
        EnableTenantRLS("learner"),
        EnableTenantRLS("contact"),
        EnableTenantRLS("learnercontact"),
        EnableTenantRLS("staff"),
        EnableTenantRLS("staffassignment"),
        EnableTenantRLS("staffcontract"),
        EnableTenantRLS("schoolgroup"),
        EnableTenantRLS("groupenrolment"),
        EnableTenantRLS("schoolenrolment"),
        EnableTenantRLS("sessionattendance"),
        EnableTenantRLS("lessonattendance"),
        EnableTenantRLS("exclusion"),
        EnableTenantRLS("specialneeds"),
        EnableTenantRLS("entitlement"),
        EnableTenantRLS("behaviour"),
        EnableTenantRLS("achievement"),
        EnableTenantRLS("homework"),
        EnableTenantRLS("diaryevent"),
        EnableTenantRLS("tombstone"),
        EnableTenantRLS("processingrestriction"),
    ]
