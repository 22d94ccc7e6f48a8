"""Database backstops for the payment ledger.

* A completed payment's details add up to its total; a rejected one has none.
* Each loan's ``paid_amount`` equals the sum of its payment details.
* Payments and their details are append-only.

The first two are deferred constraint triggers (checked at commit, like
django-hordak's balanced-legs trigger), so a service may write the payment,
its details and the loans in any order inside one transaction.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION payments_check_payment(pid bigint) RETURNS void AS $$
DECLARE
    p_status smallint;
    p_total numeric;
    d_sum numeric;
    d_count integer;
BEGIN
    SELECT status, total_amount INTO p_status, p_total FROM payments_payment WHERE id = pid;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO d_sum, d_count
      FROM payments_paymentdetail WHERE payment_id = pid;
    IF p_status = 1 AND d_sum <> p_total THEN
        RAISE EXCEPTION 'details of payment % add up to %, not its total %', pid, d_sum, p_total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_details_sum_to_total';
    END IF;
    IF p_status = 2 AND d_count > 0 THEN
        RAISE EXCEPTION 'rejected payment % has details', pid
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_rejected_has_no_details';
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION payments_check_loan(lid bigint) RETURNS void AS $$
DECLARE
    l_paid numeric;
    d_sum numeric;
BEGIN
    SELECT paid_amount INTO l_paid FROM loans_loan WHERE id = lid;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT COALESCE(SUM(amount), 0) INTO d_sum FROM payments_paymentdetail WHERE loan_id = lid;
    IF l_paid <> d_sum THEN
        RAISE EXCEPTION 'loan % has paid_amount % but its payment details add up to %',
            lid, l_paid, d_sum
            USING ERRCODE = 'check_violation', CONSTRAINT = 'loan_paid_amount_matches_details';
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION payments_detail_changed() RETURNS trigger AS $$
BEGIN
    PERFORM payments_check_payment(NEW.payment_id);
    PERFORM payments_check_loan(NEW.loan_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION payments_payment_changed() RETURNS trigger AS $$
BEGIN
    PERFORM payments_check_payment(NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION payments_loan_paid_changed() RETURNS trigger AS $$
BEGIN
    PERFORM payments_check_loan(NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION payments_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'payments_append_only';
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER payment_detail_ledger_check
    AFTER INSERT ON payments_paymentdetail
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments_detail_changed();

CREATE CONSTRAINT TRIGGER payment_ledger_check
    AFTER INSERT ON payments_payment
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments_payment_changed();

CREATE CONSTRAINT TRIGGER loan_paid_amount_ledger_check
    AFTER INSERT OR UPDATE OF paid_amount ON loans_loan
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments_loan_paid_changed();

CREATE TRIGGER payment_append_only
    BEFORE UPDATE OR DELETE ON payments_payment
    FOR EACH ROW EXECUTE FUNCTION payments_append_only();

CREATE TRIGGER payment_detail_append_only
    BEFORE UPDATE OR DELETE ON payments_paymentdetail
    FOR EACH ROW EXECUTE FUNCTION payments_append_only();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS payment_detail_append_only ON payments_paymentdetail;
DROP TRIGGER IF EXISTS payment_append_only ON payments_payment;
DROP TRIGGER IF EXISTS loan_paid_amount_ledger_check ON loans_loan;
DROP TRIGGER IF EXISTS payment_ledger_check ON payments_payment;
DROP TRIGGER IF EXISTS payment_detail_ledger_check ON payments_paymentdetail;
DROP FUNCTION IF EXISTS payments_append_only();
DROP FUNCTION IF EXISTS payments_loan_paid_changed();
DROP FUNCTION IF EXISTS payments_payment_changed();
DROP FUNCTION IF EXISTS payments_detail_changed();
DROP FUNCTION IF EXISTS payments_check_loan(bigint);
DROP FUNCTION IF EXISTS payments_check_payment(bigint);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
        ("loans", "0001_initial"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
