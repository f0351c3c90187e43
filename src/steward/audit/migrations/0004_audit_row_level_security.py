from django.db import migrations

from steward.tenancy.rls import POLICY_NAME, SCHOOL_OR_PROCESSOR, EnableSchoolDataRLS

# The newest event's hash, whatever the caller's scope: every writer links its event to it. The
# hash is not personal data; the function opens the processor scope for this one read only.
CHAIN_HEAD_FUNCTION = """
CREATE OR REPLACE FUNCTION steward_audit_chain_head() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    outer_scope text := coalesce(current_setting('steward.processor_scope', true), '');
    head text;
BEGIN
    PERFORM set_config('steward.processor_scope', 'on', true);
    SELECT e.hash INTO head FROM audit_auditevent e ORDER BY e.id DESC LIMIT 1;
    PERFORM set_config('steward.processor_scope', outer_scope, true);
    RETURN head;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_audit_anchor"), ("tenancy", "0005_processor_scope_function")]

    operations = [
        migrations.RunSQL(CHAIN_HEAD_FUNCTION, "DROP FUNCTION IF EXISTS steward_audit_chain_head()"),
        EnableSchoolDataRLS(
            "auditevent",
            policies=(
                # Read: a school's events in its scope; everything (events of no school too) for the processor.
                (POLICY_NAME, "SELECT", SCHOOL_OR_PROCESSOR, None),
                # Insert only (the app role has no UPDATE or DELETE grant): an event of no school
                # (a sign-in before a school is chosen) from any scope, a school's from its scope.
                ("steward_audit_append", "INSERT", None, f"(school_id IS NULL OR {SCHOOL_OR_PROCESSOR})"),
                # Prune, as the owner, under the processor scope (a superuser owner bypasses RLS anyway).
                ("steward_audit_prune", "DELETE", "steward_processor_scope()", None),
            ),
        ),
    ]
