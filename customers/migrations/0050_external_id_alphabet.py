"""External ids in the one id alphabet (mo_loans.ids): a CHECK on the column.

Fails on a database that already holds an id outside it; rename those first.
"""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='customer',
            name='external_id',
            field=models.CharField(max_length=60, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9._:@-]{1,60}$', 'Must be 1–60 characters: ASCII letters, digits and - _ . : @.')]),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.CheckConstraint(condition=models.Q(('external_id__regex', '^[A-Za-z0-9._:@-]{1,60}$')), name='customer_external_id_alphabet'),
        ),
    ]
