"""Why the managers withdrew an offer, kept on the offer as a rejection's reason is. The release that
brought the managers' withdrawal brought this field with it, so no offer withdrawn by them is without one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("care_providers", "0003_offer_note_for_the_provider"),
    ]

    operations = [
        migrations.AddField(
            model_name="placementoffer",
            name="revoke_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("provider_unsuitable", "Provider unsuitable"),
                    ("no_answer", "No answer from the provider"),
                    ("needs_changed", "Needs changed"),
                    ("safety_concern", "Safety concern"),
                    ("other", "Other"),
                ],
                db_default="",
                default="",
                max_length=20,
            ),
        ),
    ]
