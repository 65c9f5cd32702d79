from django.db import migrations

import referrals.encryption


def encrypt_secrets(apps, schema_editor):
    """Encrypt the secrets stored in clear, through SQL: the field now expects ciphertext."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, webhook_secret FROM accounts_organisation WHERE webhook_secret <> ''")
        for pk, secret in cursor.fetchall():
            cursor.execute(
                "UPDATE accounts_organisation SET webhook_secret = %s WHERE id = %s",
                [referrals.encryption.encrypt(secret), pk],
            )


def decrypt_secrets(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, webhook_secret FROM accounts_organisation WHERE webhook_secret <> ''")
        for pk, token in cursor.fetchall():
            cursor.execute(
                "UPDATE accounts_organisation SET webhook_secret = %s WHERE id = %s",
                [referrals.encryption.decrypt(token), pk],
            )


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
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
    ]
