import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from config.migration_operations import drop_foreign_key_index


class Migration(migrations.Migration):
    """Drops the index of each foreign key that leads a composite index, which serves it as well."""

    dependencies = [
        ('idempotency', '0003_idempotencyrecord_referral'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        drop_foreign_key_index('idempotency', 'idempotencyrecord', 'user', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL), index='idempotency_idempotencyrecord_user_id_8c6ccb77'),
    ]
