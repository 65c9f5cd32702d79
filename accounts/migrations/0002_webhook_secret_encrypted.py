from django.db import migrations

import referrals.encryption


def recode_secrets(transform):
    """Rewrite every stored secret through ``transform``, in SQL: the field's own conversion expects
    ciphertext, which the rows hold only after the forward step."""

    def run(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT id, webhook_secret FROM accounts_organisation WHERE webhook_secret <> ''")
            for pk, value in cursor.fetchall():
                cursor.execute(
                    "UPDATE accounts_organisation SET webhook_secret = %s WHERE id = %s", [transform(value), pk]
                )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="organisation",
            name="webhook_secret",
            field=referrals.encryption.EncryptedTextField(blank=True, help_text="Shared secret for the HMAC."),
        ),
        migrations.RunPython(
            recode_secrets(referrals.encryption.encrypt), recode_secrets(referrals.encryption.decrypt)
        ),
    ]
