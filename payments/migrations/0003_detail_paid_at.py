"""Keep each payment's ``paid_at`` on its details, indexed with the loan and amount.

"What had loan X been paid by date D" then reads one index, with no join to
payments. The ledger trigger also checks that a detail's ``paid_at`` is its
payment's.
"""

from django.db import migrations, models

FILL = """
ALTER TABLE payments_paymentdetail DISABLE TRIGGER payment_detail_append_only;
UPDATE payments_paymentdetail d SET paid_at = p.paid_at
  FROM payments_payment p WHERE p.id = d.payment_id AND d.paid_at IS NULL;
ALTER TABLE payments_paymentdetail ENABLE TRIGGER payment_detail_append_only;
"""

CHECK_PAYMENT = r"""
CREATE OR REPLACE FUNCTION payments_check_payment(pid bigint) RETURNS void AS $$
DECLARE
    p_status smallint;
    p_total numeric;
    p_paid_at timestamptz;
    d_sum numeric;
    d_count integer;
    d_other_time integer;
BEGIN
    SELECT status, total_amount, paid_at INTO p_status, p_total, p_paid_at
      FROM payments_payment WHERE id = pid;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT COALESCE(SUM(amount), 0), COUNT(*), COUNT(*) FILTER (WHERE paid_at <> p_paid_at)
      INTO d_sum, d_count, d_other_time
      FROM payments_paymentdetail WHERE payment_id = pid;
    IF p_status = 1 AND d_sum <> p_total THEN
        RAISE EXCEPTION 'details of payment % add up to %, not its total %', pid, d_sum, p_total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_details_sum_to_total';
    END IF;
    IF p_status = 2 AND d_count > 0 THEN
        RAISE EXCEPTION 'rejected payment % has details', pid
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_rejected_has_no_details';
    END IF;
    IF d_other_time > 0 THEN
        RAISE EXCEPTION 'details of payment % carry another paid_at than the payment', pid
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_detail_paid_at_matches';
    END IF;
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_ledger_triggers")]

    operations = [
        migrations.AddField(
            model_name="paymentdetail",
            name="paid_at",
            field=models.DateTimeField(
                null=True, help_text="The payment's paid_at, kept here for as-of reads."
            ),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="paymentdetail",
            name="paid_at",
            field=models.DateTimeField(
                help_text="The payment's paid_at, kept here for as-of reads."
            ),
        ),
        migrations.AddIndex(
            model_name="paymentdetail",
            index=models.Index(
                fields=["paid_at"], include=["loan", "amount"], name="payment_detail_paid_at"
            ),
        ),
        migrations.RunSQL(CHECK_PAYMENT, migrations.RunSQL.noop),
    ]
