import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from config.migration_operations import drop_foreign_key_index


class Migration(migrations.Migration):
    """Drops the index of each foreign key that leads a composite index, which serves it as well."""

    dependencies = [
        ('audit', '0004_sign_in_username_as_recorded'),
        ('referrals', '0017_pause_missing_recovery_reviews'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        drop_foreign_key_index('audit', 'auditevent', 'actor', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL), index='audit_auditevent_actor_id_270bb4b7'),
        drop_foreign_key_index('audit', 'auditevent', 'referral', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_events', to='referrals.referral'), index='audit_auditevent_referral_id_bf073448'),
    ]
