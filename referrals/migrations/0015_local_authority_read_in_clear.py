from django.db import migrations

import referrals.encryption


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0014_name_digest_in_any_order"),
    ]

    operations = [
        migrations.AlterField(
            model_name="referral",
            name="local_authority",
            field=referrals.encryption.EncryptedTextField(
                blank=True, clear_text_read=True, db_default="", default=""
            ),
        ),
    ]
