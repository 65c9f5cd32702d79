import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models

from config.migration_operations import drop_foreign_key_index


class Migration(migrations.Migration):
    """Drops indexes that another index serves: one on a column that leads a composite index, and one
    for LIKE on a value only ever matched whole."""

    dependencies = [
        ('accounts', '0009_duty_phone_one_number'),
        ('referrals', '0017_pause_missing_recovery_reviews'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        drop_foreign_key_index('referrals', 'deadline', 'referral', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deadlines', to='referrals.referral'), index='referrals_deadline_referral_id_945a0b87'),
        migrations.AlterField(
            model_name='referral',
            name='name_digest',
            field=models.CharField(max_length=64),
        ),
        drop_foreign_key_index('referrals', 'referral', 'organisation', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='referrals', to='accounts.organisation'), index='referrals_referral_organisation_id_579d04cf'),
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
        drop_foreign_key_index('referrals', 'transitionlog', 'referral', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='transitions', to='referrals.referral'), index='referrals_transitionlog_referral_id_90e1386f'),
        drop_foreign_key_index('referrals', 'unsentform', 'owner', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL), index='referrals_unsentform_owner_id_65083bd6'),
        migrations.AddIndex(
            model_name='referral',
            index=models.Index(fields=['name_digest'], name='referral_name_digest'),
        ),
        migrations.AddConstraint(
            model_name='referral',
            constraint=models.UniqueConstraint(fields=('reference',), name='one_referral_per_reference'),
        ),
    ]
