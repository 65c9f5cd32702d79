"""Lockout records from before sign-in names that match no user were kept as digests still hold what was
typed, perhaps a password typed into the wrong box: they go. A lockout on such a name locks out nobody."""

from django.db import migrations
from django.db.models import Exists, OuterRef


def forget_sign_in_names_of_no_user(apps, schema_editor):
    access_attempt = apps.get_model("axes", "AccessAttempt")
    user = apps.get_model("accounts", "User")
    known = user.objects.filter(username=OuterRef("username"))
    access_attempt.objects.exclude(Exists(known)).exclude(username__startswith="unknown #").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_session_stamp"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(forget_sign_in_names_of_no_user, migrations.RunPython.noop)]
