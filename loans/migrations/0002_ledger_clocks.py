"""Loans on two clocks: the schedule's start date, and when activation and rejection
were recorded (for answers as known at an earlier instant)."""

from django.db import migrations, models

FILL = """
UPDATE loans_loan
   SET start_date = maximum_payment_date - 7 * term_weeks,
       activated_at = GREATEST(taken_at, created_at)
 WHERE maximum_payment_date IS NOT NULL;
UPDATE loans_loan SET rejected_at = updated_at WHERE status = 3;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0001_initial'),
        ('loans', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='loan',
            name='loan_dates_match_status',
        ),
        migrations.AddField(
            model_name='loan',
            name='activated_at',
            field=models.DateTimeField(blank=True, help_text='When the activation was recorded.', null=True),
        ),
        migrations.AddField(
            model_name='loan',
            name='rejected_at',
            field=models.DateTimeField(blank=True, help_text='When the rejection was recorded.', null=True),
        ),
        migrations.AddField(
            model_name='loan',
            name='start_date',
            field=models.DateField(blank=True, help_text='The local date of taken_at; instalment k is due 7·k days later.', null=True),
        ),
        migrations.AlterField(
            model_name='loan',
            name='taken_at',
            field=models.DateTimeField(blank=True, help_text='When the loan was taken (value time).', null=True),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name='loan',
            index=models.Index(fields=['start_date'], name='loan_start_date'),
        ),
        migrations.AddConstraint(
            model_name='loan',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('activated_at__isnull', False), ('maximum_payment_date__isnull', False), ('rejected_at__isnull', True), ('start_date__isnull', False), ('status__in', [2, 4]), ('taken_at__isnull', False)), models.Q(('activated_at__isnull', True), ('maximum_payment_date__isnull', True), ('start_date__isnull', True), ('status__in', [1, 3]), ('taken_at__isnull', True), models.Q(models.Q(('rejected_at__isnull', True), ('status', 1)), models.Q(('rejected_at__isnull', False), ('status', 3)), _connector='OR')), _connector='OR'), name='loan_dates_match_status'),
        ),
    ]
