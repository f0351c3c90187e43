"""Tallies keep a later pass's needs only (daily history, open buckets) and bound their evidence by
first and last event id instead of carrying sample ids. Tallies written before have no ids: 0 and 0,
so evidence for such a bucket is looked up from the start of the log, bounded by time."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0002_sign_in_countries")]

    operations = [
        migrations.RemoveIndex(model_name="tally", name="tally_pass_rule"),
        migrations.RemoveField(model_name="tally", name="pass_id"),
        migrations.RemoveField(model_name="tally", name="sample_ids"),
        migrations.RemoveField(model_name="tally", name="subject_kind"),
        migrations.AddField(
            model_name="tally", name="first_id", field=models.BigIntegerField(default=0), preserve_default=False
        ),
        migrations.AddField(
            model_name="tally", name="last_id", field=models.BigIntegerField(default=0), preserve_default=False
        ),
    ]
