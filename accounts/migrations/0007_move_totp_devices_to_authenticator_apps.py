"""django-otp's TOTP devices held their keys in clear: each moves to an AuthenticatorApp of the same id,
its key encrypted, so an enrolled authenticator app keeps working; then the plain rows go. Sessions that
were verified with an old device enter a code once more."""

from django.core.management.color import no_style
from django.db import migrations

COPIED_FIELDS = (
    "user_id",
    "name",
    "confirmed",
    "key",
    "step",
    "t0",
    "digits",
    "tolerance",
    "drift",
    "last_t",
    "throttling_failure_timestamp",
    "throttling_failure_count",
    "last_used_at",
)


def move_devices(source_label, target_label):
    def run(apps, schema_editor):
        database = schema_editor.connection.alias
        source = apps.get_model(*source_label)
        target = apps.get_model(*target_label)
        moved = False
        for device in source.objects.using(database).order_by("pk"):
            target.objects.using(database).create(
                pk=device.pk, **{field: getattr(device, field) for field in COPIED_FIELDS}
            )
            # created_at is set on creation whatever is passed: the original date is put back after.
            target.objects.using(database).filter(pk=device.pk).update(created_at=device.created_at)
            moved = True
        source.objects.using(database).all().delete()
        if moved:
            with schema_editor.connection.cursor() as cursor:
                for statement in schema_editor.connection.ops.sequence_reset_sql(no_style(), [target]):
                    cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_authenticator_app_with_encrypted_key"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [
        migrations.RunPython(
            move_devices(("otp_totp", "TOTPDevice"), ("accounts", "AuthenticatorApp")),
            move_devices(("accounts", "AuthenticatorApp"), ("otp_totp", "TOTPDevice")),
        )
    ]
