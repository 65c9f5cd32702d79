import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Drops indexes that another index serves: one on a column that leads a composite index, and one
    for LIKE on a value only ever matched whole. Each foreign key's index is dropped on its own: altering
    the field would also drop its constraint and add it again, checking every row under lock."""

    dependencies = [
        ('accounts', '0009_duty_phone_one_number'),
        ('referrals', '0017_pause_missing_recovery_reviews'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "referrals_deadline_referral_id_945a0b87"',
                    reverse_sql='CREATE INDEX "referrals_deadline_referral_id_945a0b87" ON "referrals_deadline" ("referral_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name='deadline', name='referral', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deadlines', to='referrals.referral')),
            ],
        ),
        migrations.AlterField(
            model_name='referral',
            name='name_digest',
            field=models.CharField(max_length=64),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "referrals_referral_organisation_id_579d04cf"',
                    reverse_sql='CREATE INDEX "referrals_referral_organisation_id_579d04cf" ON "referrals_referral" ("organisation_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name='referral', name='organisation', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='referrals', to='accounts.organisation')),
            ],
        ),
        migrations.AlterField(
            model_name='referral',
            name='reference',
            field=models.CharField(max_length=20),
        ),
        migrations.AlterField(
            model_name='referral',
            name='state',
            field=django_fsm.FSMField(choices=[('received', 'Received'), ('assessed', 'Assessed'), ('placed', 'Placed'), ('missing', 'Missing'), ('recovered', 'Recovered'), ('declined', 'Declined'), ('withdrawn', 'Withdrawn'), ('exited', 'Exited')], default='received', max_length=50, protected=True),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "referrals_transitionlog_referral_id_90e1386f"',
                    reverse_sql='CREATE INDEX "referrals_transitionlog_referral_id_90e1386f" ON "referrals_transitionlog" ("referral_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name='transitionlog', name='referral', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='transitions', to='referrals.referral')),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "referrals_unsentform_owner_id_65083bd6"',
                    reverse_sql='CREATE INDEX "referrals_unsentform_owner_id_65083bd6" ON "referrals_unsentform" ("owner_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name='unsentform', name='owner', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.AddIndex(
            model_name='referral',
            index=models.Index(fields=['name_digest'], name='referral_name_digest'),
        ),
        migrations.AddConstraint(
            model_name='referral',
            constraint=models.UniqueConstraint(fields=('reference',), name='one_referral_per_reference'),
        ),
    ]
