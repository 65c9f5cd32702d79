"""A person reallocated while missing had their placement clock started at once, though no placement
can be offered until they are found (``check_not_missing``): the sweep escalated it as overdue and the
report counted it as missed. The clock now starts when they are found (``mark_found``). This removes the
open placement clocks of cases still waiting in that way; being found starts theirs. Safe to run again.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0007_first_placed_at_of_reallocated_cases"),
    ]

    operations = [
        migrations.RunSQL(
            """
            DELETE FROM referrals_deadline
            WHERE clock = 'placement' AND stopped_at IS NULL
            AND EXISTS (
                SELECT 1 FROM referrals_deadline AS missing
                WHERE missing.referral_id = referrals_deadline.referral_id
                AND missing.clock = 'missing' AND missing.stopped_at IS NULL
            )
            AND EXISTS (
                SELECT 1 FROM referrals_referral
                WHERE referrals_referral.id = referrals_deadline.referral_id
                AND referrals_referral.state = 'assessed'
            )
            """,
            migrations.RunSQL.noop,
        ),
    ]
