import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Drops the index of each foreign key that leads a composite index, which serves it as well. Only
    the index: altering the field would also drop its constraint and add it again, checking every row
    under lock."""

    dependencies = [
        ('audit', '0004_sign_in_username_as_recorded'),
        ('referrals', '0017_pause_missing_recovery_reviews'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "audit_auditevent_actor_id_270bb4b7"',
                    reverse_sql='CREATE INDEX "audit_auditevent_actor_id_270bb4b7" ON "audit_auditevent" ("actor_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name='auditevent', name='actor', field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "audit_auditevent_referral_id_bf073448"',
                    reverse_sql='CREATE INDEX "audit_auditevent_referral_id_bf073448" ON "audit_auditevent" ("referral_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name='auditevent', name='referral', field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_events', to='referrals.referral')),
            ],
        ),
    ]
