import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from config.migration_operations import drop_foreign_key_index


class Migration(migrations.Migration):
    """Drops the index of each foreign key that leads a composite index, which serves it as well."""

    dependencies = [
        ('notifications', '0023_notification_contact'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        drop_foreign_key_index('notifications', 'inboxitem', 'user', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='inbox', to=settings.AUTH_USER_MODEL), index='notifications_inboxitem_user_id_b803e252'),
    ]
