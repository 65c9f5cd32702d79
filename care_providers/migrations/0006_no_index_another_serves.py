import django.db.models.deletion
from django.db import migrations, models

from config.migration_operations import drop_foreign_key_index


class Migration(migrations.Migration):
    """Drops the index of each foreign key that leads a composite index, which serves it as well."""

    dependencies = [
        ('care_providers', '0005_offer_withdrawn_label'),
    ]

    operations = [
        drop_foreign_key_index('care_providers', 'placementoffer', 'provider', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='offers', to='care_providers.careprovider'), index='care_providers_placementoffer_provider_id_80bfdca3'),
    ]
