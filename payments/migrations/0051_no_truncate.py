"""TRUNCATE never empties the ledger: payments and their details refuse it.

Row triggers (append-only) do not fire on TRUNCATE, so a statement trigger
refuses it, for every role, the owner's ``manage.py flush`` included. Wiping a
database that is not production on purpose: drop it, or set
``mo_loans.allow_ledger_truncate = on`` in that session (the test suite sets
it on its own test database).
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION payments_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('mo_loans.allow_ledger_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is part of the ledger: TRUNCATE is refused', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'payments_no_truncate';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER payment_no_truncate
    BEFORE TRUNCATE ON payments_payment
    FOR EACH STATEMENT EXECUTE FUNCTION payments_refuse_truncate();

CREATE TRIGGER payment_detail_no_truncate
    BEFORE TRUNCATE ON payments_paymentdetail
    FOR EACH STATEMENT EXECUTE FUNCTION payments_refuse_truncate();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS payment_detail_no_truncate ON payments_paymentdetail;
DROP TRIGGER IF EXISTS payment_no_truncate ON payments_payment;
DROP FUNCTION IF EXISTS payments_refuse_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("payments", "0050_external_id_alphabet")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
