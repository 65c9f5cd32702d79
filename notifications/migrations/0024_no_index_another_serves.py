import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Drops the index of each foreign key that leads a composite index, which serves it as well. Only
    the index: altering the field would also drop its constraint and add it again, checking every row
    under lock."""

    dependencies = [
        ('notifications', '0023_notification_contact'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "notifications_inboxitem_user_id_b803e252"',
                    reverse_sql='CREATE INDEX "notifications_inboxitem_user_id_b803e252" ON "notifications_inboxitem" ("user_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name='inboxitem', name='user', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='inbox', to=settings.AUTH_USER_MODEL)),
            ],
        ),
    ]
