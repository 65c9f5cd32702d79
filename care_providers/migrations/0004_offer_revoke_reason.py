"""Why the managers withdrew an offer, kept on the offer as a rejection's reason is. An offer they withdrew
before this release has its reason only in the case's transition log (``revoke_offer``, whose input names
the offer): it is copied from there. An offer revoked with its case has no such entry, and no reason.

Safe to run again: it fills only offers with no reason. Backwards, the column goes, and the log keeps the
reason."""

from django.db import migrations, models


def reasons_from_the_log(apps, schema_editor):
    transition_log = apps.get_model("referrals", "TransitionLog")
    placement_offer = apps.get_model("care_providers", "PlacementOffer")
    # One update per withdrawal logged, which are few: the input is encrypted, so it is read here, not in SQL.
    for entry in transition_log.objects.filter(transition="revoke_offer").only("input").iterator():
        placement_offer.objects.filter(pk=entry.input["offer"], state="revoked", revoke_reason="").update(
            revoke_reason=entry.input["reason"]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("care_providers", "0003_offer_note_for_the_provider"),
        ("referrals", "0015_local_authority_read_in_clear"),
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
        migrations.RunPython(reasons_from_the_log, migrations.RunPython.noop),
    ]
