import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Drops the index of each foreign key that leads a composite index, which serves it as well. Only
    the index: altering the field would also drop its constraint and add it again, checking every row
    under lock."""

    dependencies = [
        ('care_providers', '0005_offer_withdrawn_label'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "care_providers_placementoffer_provider_id_80bfdca3"',
                    reverse_sql='CREATE INDEX "care_providers_placementoffer_provider_id_80bfdca3" ON "care_providers_placementoffer" ("provider_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name='placementoffer', name='provider', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='offers', to='care_providers.careprovider')),
            ],
        ),
    ]
