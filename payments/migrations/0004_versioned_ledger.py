"""A versioned ledger: value dates, recording times, reversals, superseded allocations.

* A payment keeps ``recorded_at`` beside its value date ``paid_at``; a completed
  payment may be reversed, once (status 3, ``reversed_at``, ``reversal_reason``).
* A replay never updates an amount: it marks the detail rows it replaces as
  superseded and inserts new ones. The triggers allow exactly these two
  changes, each once, and nothing else (no other UPDATE, no DELETE).
* The deferred ledger checks read the rows in force (``superseded_at IS NULL``).
"""

import django.utils.timezone
from django.db import migrations, models

FILL = """
ALTER TABLE payments_paymentdetail DISABLE TRIGGER payment_detail_append_only;
ALTER TABLE payments_payment DISABLE TRIGGER payment_append_only;
UPDATE payments_payment SET recorded_at = created_at WHERE recorded_at IS NULL;
UPDATE payments_paymentdetail SET recorded_at = created_at WHERE recorded_at IS NULL;
ALTER TABLE payments_payment ENABLE TRIGGER payment_append_only;
ALTER TABLE payments_paymentdetail ENABLE TRIGGER payment_detail_append_only;
"""

LEDGER = r"""
CREATE OR REPLACE FUNCTION payments_check_payment(pid bigint) RETURNS void AS $$
DECLARE
    p_status smallint;
    p_total numeric;
    p_paid_at timestamptz;
    d_sum numeric;
    d_current integer;
    d_all integer;
    d_other_time integer;
BEGIN
    SELECT status, total_amount, paid_at INTO p_status, p_total, p_paid_at
      FROM payments_payment WHERE id = pid;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT COALESCE(SUM(amount) FILTER (WHERE superseded_at IS NULL), 0),
           COUNT(*) FILTER (WHERE superseded_at IS NULL),
           COUNT(*),
           COUNT(*) FILTER (WHERE paid_at <> p_paid_at)
      INTO d_sum, d_current, d_all, d_other_time
      FROM payments_paymentdetail WHERE payment_id = pid;
    IF p_status = 1 AND d_sum <> p_total THEN
        RAISE EXCEPTION 'details of payment % add up to %, not its total %', pid, d_sum, p_total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_details_sum_to_total';
    END IF;
    IF p_status = 2 AND d_all > 0 THEN
        RAISE EXCEPTION 'rejected payment % has details', pid
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_rejected_has_no_details';
    END IF;
    IF p_status = 3 AND d_current > 0 THEN
        RAISE EXCEPTION 'reversed payment % still has details in force', pid
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_reversed_has_no_details';
    END IF;
    IF d_other_time > 0 THEN
        RAISE EXCEPTION 'details of payment % carry another paid_at than the payment', pid
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_detail_paid_at_matches';
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION payments_check_loan(lid bigint) RETURNS void AS $$
DECLARE
    l_paid numeric;
    d_sum numeric;
BEGIN
    SELECT paid_amount INTO l_paid FROM loans_loan WHERE id = lid;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT COALESCE(SUM(amount), 0) INTO d_sum FROM payments_paymentdetail
     WHERE loan_id = lid AND superseded_at IS NULL;
    IF l_paid <> d_sum THEN
        RAISE EXCEPTION 'loan % has paid_amount % but its payment details add up to %',
            lid, l_paid, d_sum
            USING ERRCODE = 'check_violation', CONSTRAINT = 'loan_paid_amount_matches_details';
    END IF;
END;
$$ LANGUAGE plpgsql;

-- A payment row changes once at most: a completed payment becomes reversed.
CREATE FUNCTION payments_payment_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.status = 1 AND NEW.status = 3
       AND NEW.reversed_at IS NOT NULL AND NEW.reversal_reason <> ''
       AND (NEW.id, NEW.external_id, NEW.customer_id, NEW.loan_id, NEW.total_amount,
            NEW.paid_at, NEW.recorded_at, NEW.rejection_reason, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.external_id, OLD.customer_id, OLD.loan_id, OLD.total_amount,
            OLD.paid_at, OLD.recorded_at, OLD.rejection_reason, OLD.created_at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'payments are append-only; the one change allowed is a reversal'
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'payments_append_only';
END;
$$ LANGUAGE plpgsql;

-- An allocation row changes once at most: a replay marks it superseded.
CREATE FUNCTION payments_detail_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.superseded_at IS NULL AND NEW.superseded_at IS NOT NULL
       AND (NEW.id, NEW.payment_id, NEW.loan_id, NEW.amount, NEW.paid_at, NEW.recorded_at,
            NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.payment_id, OLD.loan_id, OLD.amount, OLD.paid_at, OLD.recorded_at,
            OLD.created_at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'payment details are append-only; the one change allowed is supersession'
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'payments_append_only';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER payment_append_only ON payments_payment;
DROP TRIGGER payment_detail_append_only ON payments_paymentdetail;
DROP FUNCTION payments_append_only();

CREATE TRIGGER payment_guard
    BEFORE UPDATE OR DELETE ON payments_payment
    FOR EACH ROW EXECUTE FUNCTION payments_payment_guard();
CREATE TRIGGER payment_detail_guard
    BEFORE UPDATE OR DELETE ON payments_paymentdetail
    FOR EACH ROW EXECUTE FUNCTION payments_detail_guard();

-- The deferred checks also run after a reversal and after a supersession.
DROP TRIGGER payment_detail_ledger_check ON payments_paymentdetail;
CREATE CONSTRAINT TRIGGER payment_detail_ledger_check
    AFTER INSERT OR UPDATE ON payments_paymentdetail
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments_detail_changed();
DROP TRIGGER payment_ledger_check ON payments_payment;
CREATE CONSTRAINT TRIGGER payment_ledger_check
    AFTER INSERT OR UPDATE ON payments_payment
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments_payment_changed();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0001_initial'),
        ('loans', '0002_ledger_clocks'),
        ('payments', '0003_detail_paid_at'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='paymentdetail',
            options={'base_manager_name': 'objects', 'ordering': ['id']},
        ),
        migrations.RemoveConstraint(
            model_name='payment',
            name='payment_rejection_reason_iff_rejected',
        ),
        migrations.RemoveConstraint(
            model_name='paymentdetail',
            name='payment_detail_unique_loan',
        ),
        migrations.RemoveIndex(
            model_name='paymentdetail',
            name='payment_detail_paid_at',
        ),
        migrations.AddField(
            model_name='payment',
            name='recorded_at',
            field=models.DateTimeField(help_text='When the service accepted the payment.', null=True),
        ),
        migrations.AddField(
            model_name='payment',
            name='reversal_reason',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AddField(
            model_name='payment',
            name='reversed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='paymentdetail',
            name='recorded_at',
            field=models.DateTimeField(help_text='When this version of the allocation was written.', null=True),
        ),
        migrations.AddField(
            model_name='paymentdetail',
            name='superseded_at',
            field=models.DateTimeField(blank=True, help_text='When a replay replaced this row; empty while in force.', null=True),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name='payment',
            name='recorded_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text='When the service accepted the payment.'),
        ),
        migrations.AlterField(
            model_name='paymentdetail',
            name='recorded_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text='When this version of the allocation was written.'),
        ),
        migrations.AlterField(
            model_name='payment',
            name='paid_at',
            field=models.DateTimeField(help_text='When the money was received (value time).'),
        ),
        migrations.AlterField(
            model_name='payment',
            name='status',
            field=models.PositiveSmallIntegerField(choices=[(1, 'completed'), (2, 'rejected'), (3, 'reversed')]),
        ),
        migrations.AddIndex(
            model_name='paymentdetail',
            index=models.Index(condition=models.Q(('superseded_at__isnull', True)), fields=['paid_at'], include=('loan', 'amount'), name='payment_detail_paid_at'),
        ),
        migrations.AddIndex(
            model_name='paymentdetail',
            index=models.Index(condition=models.Q(('superseded_at__isnull', True)), fields=['loan'], include=('amount',), name='payment_detail_current_loan'),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('rejection_reason', ''), ('status__in', [1, 3])), models.Q(('status', 2), models.Q(('rejection_reason', ''), _negated=True)), _connector='OR'), name='payment_rejection_reason_iff_rejected'),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('reversal_reason', ''), ('reversed_at__isnull', True), ('status__in', [1, 2])), models.Q(('reversed_at__isnull', False), ('status', 3), models.Q(('reversal_reason', ''), _negated=True)), _connector='OR'), name='payment_reversal_iff_reversed'),
        ),
        migrations.AddConstraint(
            model_name='paymentdetail',
            constraint=models.UniqueConstraint(condition=models.Q(('superseded_at__isnull', True)), fields=('payment', 'loan'), name='payment_detail_unique_loan'),
        ),
        migrations.AddConstraint(
            model_name='paymentdetail',
            constraint=models.CheckConstraint(condition=models.Q(('superseded_at__isnull', True), ('superseded_at__gte', models.F('recorded_at')), _connector='OR'), name='payment_detail_superseded_after_recorded'),
        ),
        migrations.RunSQL(LEDGER, migrations.RunSQL.noop),
    ]
