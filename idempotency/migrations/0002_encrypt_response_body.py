import referrals.encryption
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("idempotency", "0001_initial"),
    ]

    operations = [
        # Replayed responses hold personal details: stored encrypted, like the case itself.
        migrations.RemoveField(model_name="idempotencyrecord", name="response_body"),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="response_body",
            field=referrals.encryption.EncryptedJSONField(null=True),
        ),
    ]
