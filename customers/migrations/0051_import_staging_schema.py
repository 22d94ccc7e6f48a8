"""A schema for import_customers' staging tables.

The app's database role may create tables here (``manage.py migrate`` grants it,
see mo_loans.dbroles) but not in ``public``, where the ledger lives.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0050_external_id_alphabet")]

    operations = [
        migrations.RunSQL(
            "CREATE SCHEMA IF NOT EXISTS customers_import",
            "DROP SCHEMA IF EXISTS customers_import CASCADE",
        )
    ]
