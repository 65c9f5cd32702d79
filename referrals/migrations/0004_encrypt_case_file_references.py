from django.db import migrations

import referrals.encryption

COLUMNS = ("responder_reference", "crime_reference")


def recode_references(transform):
    """Rewrite every stored reference through ``transform``, in SQL: the field's own conversion
    expects ciphertext, which the rows hold only after the forward step."""

    def run(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            for column in COLUMNS:
                cursor.execute(f"SELECT id, {column} FROM referrals_referral WHERE {column} <> ''")  # noqa: S608
                for pk, value in cursor.fetchall():
                    cursor.execute(
                        f"UPDATE referrals_referral SET {column} = %s WHERE id = %s",  # noqa: S608
                        [transform(value), pk],
                    )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0003_referral_first_placed_at"),
    ]

    operations = [
        *(
            migrations.AlterField(
                model_name="referral",
                name=column,
                field=referrals.encryption.EncryptedTextField(blank=True, default=""),
            )
            for column in COLUMNS
        ),
        migrations.RunPython(
            recode_references(referrals.encryption.encrypt), recode_references(referrals.encryption.decrypt)
        ),
    ]
