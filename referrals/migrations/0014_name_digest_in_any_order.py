from django.db import migrations

from referrals.encryption import DecryptionFailed, decrypt, hash_keys, keyed_digest, normalise

BATCH = 2_000


def given_then_family(given_name: str, family_name: str, *, key: str) -> str:
    """The name digest before this migration: the given name, then the family name."""
    return keyed_digest(given_name, family_name, key=key)


def words_in_any_order(given_name: str, family_name: str, *, key: str) -> str:
    """The name digest this migration makes, of the name's words sorted: as ``encryption.name_digest``
    was written then, frozen here so that a later change to it does not change what this migration does."""
    return keyed_digest(" ".join(sorted(normalise(f"{given_name} {family_name}").split())), key=key)


def redigest_names(old, new):
    """Recompute every stored name digest from ``old``'s form to ``new``'s, from the decrypted names, in
    SQL (the names are read as stored), a batch of rows at a time. Each digest stays under the key it
    was under (FIELD_HASH_KEY, or a fallback while the key is being changed); one under no configured
    key, or of names no key decrypts, is left as it is, as ``manage.py rehash_digests`` would find it.
    Anonymised cases hold no digest."""

    def run(apps, schema_editor):
        last_id = 0
        with schema_editor.connection.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT id, given_name, family_name, name_digest FROM referrals_referral "
                    "WHERE id > %s AND name_digest <> '' ORDER BY id LIMIT %s",
                    [last_id, BATCH],
                )
                rows = cursor.fetchall()
                if not rows:
                    return
                changed = []
                for pk, given_name, family_name, stored in rows:
                    try:
                        names = decrypt(given_name), decrypt(family_name)
                    except DecryptionFailed:
                        continue
                    key = next((key for key in hash_keys() if old(*names, key=key) == stored), None)
                    if key is not None:
                        changed.append([new(*names, key=key), pk])
                cursor.executemany("UPDATE referrals_referral SET name_digest = %s WHERE id = %s", changed)
                last_id = rows[-1][0]

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0013_encrypt_local_authority"),
    ]

    operations = [
        migrations.RunPython(
            redigest_names(given_then_family, words_in_any_order),
            redigest_names(words_in_any_order, given_then_family),
        ),
    ]
