from django.db import migrations, models

import referrals.encryption

BATCH = 5_000


def recode_local_authorities(transform):
    """Rewrite every stored local authority through ``transform``, in SQL (the field's own conversion
    expects ciphertext, which the rows hold only after the forward step), a batch of rows at a time: one
    read and one pipelined write per batch, whatever the number of cases."""

    def run(apps, schema_editor):
        last_id = 0
        with schema_editor.connection.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT id, local_authority FROM referrals_referral "
                    "WHERE id > %s AND local_authority <> '' ORDER BY id LIMIT %s",
                    [last_id, BATCH],
                )
                rows = cursor.fetchall()
                if not rows:
                    return
                cursor.executemany(
                    "UPDATE referrals_referral SET local_authority = %s WHERE id = %s",
                    [[transform(value), pk] for pk, value in rows],
                )
                last_id = rows[-1][0]

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0012_referral_local_authority"),
    ]

    operations = [
        migrations.AlterField(
            model_name="referral",
            name="local_authority",
            field=referrals.encryption.EncryptedTextField(blank=True, db_default="", default=""),
        ),
        migrations.RunPython(
            recode_local_authorities(referrals.encryption.encrypt),
            recode_local_authorities(referrals.encryption.decrypt),
        ),
    ]
