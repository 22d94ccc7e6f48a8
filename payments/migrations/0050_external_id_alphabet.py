"""External ids in the one id alphabet (mo_loans.ids): a CHECK on the column.

Fails on a database that already holds an id outside it; rename those first.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0005_reverse_permission'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.CheckConstraint(condition=models.Q(('external_id__regex', '^[A-Za-z0-9._:@-]{1,60}$')), name='payment_external_id_alphabet'),
        ),
    ]
