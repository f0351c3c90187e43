from django.db import migrations

from steward.tenancy.rls import POLICY_NAME, SCHOOL_OR_PROCESSOR, EnableSchoolDataRLS

CURRENT_PARENT_FUNCTION = """
CREATE OR REPLACE FUNCTION steward_current_parent_id() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('steward.parent_id', true), '')::bigint
$$;
"""
# The schools of one parent account, read before any school scope exists (the portal's sign-in and
# every page's account lookup). It sets the narrow parent scope (`steward.parent_id`) for its own
# read only, so the policy lets through that account's links and no one else's.
PARENT_SCHOOL_IDS_FUNCTION = """
CREATE OR REPLACE FUNCTION steward_parent_school_ids(parent bigint) RETURNS bigint[]
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    outer_parent text := coalesce(current_setting('steward.parent_id', true), '');
    found bigint[];
BEGIN
    PERFORM set_config('steward.parent_id', parent::text, true);
    SELECT coalesce(array_agg(DISTINCT l.school_id ORDER BY l.school_id), '{}') INTO found
      FROM portal_parentlink l WHERE l.parent_id = parent;
    PERFORM set_config('steward.parent_id', outer_parent, true);
    RETURN found;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial"), ("tenancy", "0005_processor_scope_function")]

    operations = [
        migrations.RunSQL(CURRENT_PARENT_FUNCTION, "DROP FUNCTION IF EXISTS steward_current_parent_id()"),
        migrations.RunSQL(PARENT_SCHOOL_IDS_FUNCTION, "DROP FUNCTION IF EXISTS steward_parent_school_ids(bigint)"),
        EnableSchoolDataRLS(
            "parentlink",
            policies=(
                (POLICY_NAME, "ALL", SCHOOL_OR_PROCESSOR, SCHOOL_OR_PROCESSOR),
                ("steward_parent_own_links", "SELECT", "(parent_id = steward_current_parent_id())", None),
            ),
        ),
    ]
