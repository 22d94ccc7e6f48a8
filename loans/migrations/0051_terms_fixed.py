"""Database backstops for what a loan promised: its terms, and its schedule once activated.

* A loan's terms (amount, interest rate, term, total, instalment amount,
  customer) never change once it is created.
* An instalment's loan, number and amount never change; its due date is set
  once, at activation (from NULL), and never changes after.

The services never do either; these triggers make sure nothing else can.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION loans_terms_fixed() RETURNS trigger AS $$
BEGIN
    IF (NEW.amount, NEW.interest_rate, NEW.term_weeks, NEW.total_amount,
        NEW.installment_amount, NEW.customer_id)
       IS DISTINCT FROM
       (OLD.amount, OLD.interest_rate, OLD.term_weeks, OLD.total_amount,
        OLD.installment_amount, OLD.customer_id) THEN
        RAISE EXCEPTION 'the terms of loan % are fixed once it is created', OLD.id
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'loan_terms_fixed';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER loan_terms_fixed
    BEFORE UPDATE OF amount, interest_rate, term_weeks, total_amount, installment_amount,
                     customer_id
    ON loans_loan FOR EACH ROW EXECUTE FUNCTION loans_terms_fixed();

CREATE FUNCTION loans_installment_fixed() RETURNS trigger AS $$
BEGIN
    IF (NEW.loan_id, NEW.number, NEW.amount) IS DISTINCT FROM (OLD.loan_id, OLD.number, OLD.amount)
    THEN
        RAISE EXCEPTION 'instalment % of loan %: its amount is fixed', OLD.number, OLD.loan_id
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'installment_amount_fixed';
    END IF;
    IF OLD.due_date IS NOT NULL AND NEW.due_date IS DISTINCT FROM OLD.due_date THEN
        RAISE EXCEPTION 'instalment % of loan %: its due date is fixed at activation',
            OLD.number, OLD.loan_id
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'installment_due_date_fixed';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER installment_fixed
    BEFORE UPDATE ON loans_installment FOR EACH ROW EXECUTE FUNCTION loans_installment_fixed();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS installment_fixed ON loans_installment;
DROP FUNCTION IF EXISTS loans_installment_fixed();
DROP TRIGGER IF EXISTS loan_terms_fixed ON loans_loan;
DROP FUNCTION IF EXISTS loans_terms_fixed();
"""


class Migration(migrations.Migration):
    dependencies = [("loans", "0050_external_id_alphabet")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
