"""Date-times written in the years 1900-2200 (mo_loans.limits): a CHECK backs the serializers.

Fails on a database that holds a date-time outside that range; fix those rows first.
"""

import datetime
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0051_import_staging_schema'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.CheckConstraint(condition=models.Q(('preapproved_at__isnull', True), models.Q(('preapproved_at__gte', datetime.datetime(1899, 12, 30, 0, 0, tzinfo=datetime.timezone.utc)), ('preapproved_at__lt', datetime.datetime(2201, 1, 2, 0, 0, tzinfo=datetime.timezone.utc))), _connector='OR'), name='customer_preapproved_at_range'),
        ),
    ]
