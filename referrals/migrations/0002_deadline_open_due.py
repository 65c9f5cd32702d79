from django.db import migrations, models


class Migration(migrations.Migration):
    """The caseload report's overdue list reads open clocks in due order and stops after the first page."""

    dependencies = [
        ("referrals", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="deadline",
            index=models.Index(
                condition=models.Q(("stopped_at__isnull", True)), fields=["due_at"], name="deadline_open_due"
            ),
        ),
    ]
