from django.db import migrations

from steward.tenancy.rls import POLICY_NAME, SCHOOL_OR_PROCESSOR, EnableSchoolDataRLS


class Migration(migrations.Migration):
    dependencies = [("retention", "0001_initial"), ("tenancy", "0005_processor_scope_function")]

    operations = [
        EnableSchoolDataRLS(
            "contracttermination", policies=((POLICY_NAME, "ALL", SCHOOL_OR_PROCESSOR, SCHOOL_OR_PROCESSOR),)
        ),
        # Entries of no school (rows of processor-wide tables, such as closed parent accounts) are
        # the processor's only.
        EnableSchoolDataRLS(
            "restorereplay", policies=((POLICY_NAME, "ALL", SCHOOL_OR_PROCESSOR, SCHOOL_OR_PROCESSOR),)
        ),
    ]
