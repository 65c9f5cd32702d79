"""API tokens are kept only as digests, in accounts; the plaintext tokens of rest_framework.authtoken go."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# The tokens of rest_framework.authtoken, no longer installed, are kept as they are, each enough to sign
# in with: drop them. Their users ask for a new token. Django's record of that app's migrations goes too,
# so that it could be installed again.
DROP_PLAINTEXT_TOKENS = (
    "DROP TABLE IF EXISTS authtoken_token",
    "DELETE FROM django_migrations WHERE app = 'authtoken'",
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_forget_sign_in_names_of_no_user"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.CharField(editable=False, max_length=64, unique=True)),
                ("created", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.RunSQL(DROP_PLAINTEXT_TOKENS, reverse_sql=migrations.RunSQL.noop),
    ]
