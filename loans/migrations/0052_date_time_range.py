"""Date-times written in the years 1900-2200 (mo_loans.limits): a CHECK backs the serializers.

Fails on a database that holds a date-time outside that range; fix those rows first.
"""

import datetime
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('loans', '0051_terms_fixed'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='loan',
            constraint=models.CheckConstraint(condition=models.Q(('taken_at__isnull', True), models.Q(('taken_at__gte', datetime.datetime(1899, 12, 30, 0, 0, tzinfo=datetime.timezone.utc)), ('taken_at__lt', datetime.datetime(2201, 1, 2, 0, 0, tzinfo=datetime.timezone.utc))), _connector='OR'), name='loan_taken_at_range'),
        ),
    ]
