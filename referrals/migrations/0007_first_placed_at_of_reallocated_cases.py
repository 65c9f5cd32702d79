"""0003 gave first_placed_at only to cases placed or closed when it ran, not to a case reallocated and
waiting for its next placement: that case's next acceptance was then recorded as its first placement, and
the report's time to first placement ran to it. A case with a placement and no first placement recorded,
or one recorded after a placement of it began, gets its first placement's start. Safe to run again: a case
repaired is left as it is. One UPDATE, of those cases only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0006_draft_form_key"),
    ]

    operations = [
        migrations.RunSQL(
            """
            UPDATE referrals_referral SET first_placed_at = (
                SELECT min(started_at) FROM care_providers_placement
                WHERE care_providers_placement.referral_id = referrals_referral.id
            )
            WHERE EXISTS (
                SELECT 1 FROM care_providers_placement
                WHERE care_providers_placement.referral_id = referrals_referral.id
                AND (
                    referrals_referral.first_placed_at IS NULL
                    OR care_providers_placement.started_at < referrals_referral.first_placed_at
                )
            )
            """,
            migrations.RunSQL.noop,
        ),
    ]
