from django.db import migrations

import referrals.encryption

COLUMNS = ("responder_reference", "crime_reference")
BATCH = 5_000


def recode_references(transform):
    """Rewrite every stored reference through ``transform``, in SQL (the field's own conversion expects
    ciphertext, which the rows hold only after the forward step), a batch of rows at a time: one read
    and one pipelined write per batch, whatever the number of cases."""

    def run(apps, schema_editor):
        columns = ", ".join(COLUMNS)
        assignments = ", ".join(f"{column} = %s" for column in COLUMNS)
        last_id = 0
        with schema_editor.connection.cursor() as cursor:
            while True:
                cursor.execute(
                    f"SELECT id, {columns} FROM referrals_referral "  # noqa: S608
                    "WHERE id > %s AND (responder_reference <> '' OR crime_reference <> '') "
                    "ORDER BY id LIMIT %s",
                    [last_id, BATCH],
                )
                rows = cursor.fetchall()
                if not rows:
                    return
                cursor.executemany(
                    f"UPDATE referrals_referral SET {assignments} WHERE id = %s",  # noqa: S608
                    [[*(transform(value) if value else "" for value in values), pk] for pk, *values in rows],
                )
                last_id = rows[-1][0]

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
