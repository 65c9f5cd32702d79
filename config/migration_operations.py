"""Migration operations that Django's own do not provide."""

from __future__ import annotations

from django.db import migrations, models


def drop_foreign_key_index(
    app_label: str, model_name: str, name: str, field: models.ForeignKey, *, index: str
) -> migrations.SeparateDatabaseAndState:
    """Drop the index of a foreign key that another index serves (one it leads), and nothing else.

    Altering the field to ``db_index=False`` would also drop the key's constraint and add it again, which
    checks every row of the table under lock. ``index`` is the index's name, as the migration that made
    it named it; the table and column are Django's defaults for the model and the key.
    """
    table, column = f"{app_label}_{model_name}", f"{name}_id"
    return migrations.SeparateDatabaseAndState(
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
            ),
        ],
        state_operations=[migrations.AlterField(model_name=model_name, name=name, field=field)],
    )
