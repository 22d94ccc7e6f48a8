"""What the OpenAPI schema tells a client: operation, parameter and value descriptions.

Docstrings in the code are for developers and never reach the schema
(``DISABLE_DOCSTRING_DESCRIPTIONS``); every text a client reads is written
here, for a client, and applied by :func:`mo_loans.api.schema.postprocess_schema`.
"""

from __future__ import annotations

API_DESCRIPTION = (
    "Customers with a credit line, loans billed in weekly instalments, payments spread "
    "over a customer's loans, and balances and delinquency as of any date.\n\n"
    "* Every call needs the header `Authorization: Api-Key <key>`.\n"
    "* Resources are addressed by your own `external_id`.\n"
    '* Money is an exact decimal, answered as a string with 2 decimals (`"110000.00"`); '
    "in a request it may be a string or a JSON number.\n"
    "* Statuses are integers; each enum below names its values.\n"
    "* Errors are JSON: `code` (stable), `message` (for a person) and, for invalid fields, "
    "`fields`.\n"
    "* Every POST takes an optional `Idempotency-Key` header that makes a retry safe."
)

_AS_OF = "`as_of` (a date, `YYYY-MM-DD`; default today)"
_LOAN_FILTERS = (
    f"Filters: `customer_external_id`, `status`, and `delinquent=true|false` judged as of {_AS_OF}."
)

# operationId -> (summary, description).
OPERATIONS: dict[str, tuple[str, str]] = {
    "customers_list": (
        "List customers",
        "Every customer, in the order they were created, paginated. Filters: `status`, "
        f"`external_id`, and `delinquent=true|false` judged as of {_AS_OF}: a customer is "
        "delinquent when any of their loans has 2 or more missed instalments.",
    ),
    "customers_create": (
        "Create a customer",
        "`external_id` is your own id for the customer (1 to 60 characters; `balance` and "
        "`bulk` are reserved): every other call addresses the customer by it, and a taken one "
        "is 400 `duplicate_external_id`. `score` is the credit line, the most the customer may "
        "owe at once (zero allowed). A new customer is active (`status` 1).",
    ),
    "customers_retrieve": ("Get a customer", "The customer with this `external_id`."),
    "customers_partial_update": (
        "Change a customer",
        "Change any of `score`, `status`, `name` and `email`. The `external_id` is fixed: "
        "sending it is 400.",
    ),
    "customers_balance_list": (
        "List balances",
        "Every customer's `score`, `total_debt` (what they owe over their pending and active "
        "loans) and `available_amount` (`score` − `total_debt`, never below 0), now. "
        "Filter: `external_id`.",
    ),
    "customers_balance_retrieve": (
        "Get a customer's balance",
        "`total_debt`, `available_amount` and `is_delinquent` of one customer as of "
        f"{_AS_OF}: only payments made on or before that date count.",
    ),
    "customers_loans_list": (
        "List a customer's loans",
        f"The customer's loans, in the order they were created, paginated. {_LOAN_FILTERS}",
    ),
    "customers_payments_list": (
        "List a customer's payments",
        "The customer's payments, in the order they were recorded, paginated, each with its "
        "`details`. Filters: `status`, `paid_from`, `paid_to`.",
    ),
    "customers_bulk_create": (
        "Create many customers",
        "All or nothing, each customer judged as by `POST /api/customers`. The body is a JSON "
        "list of customer objects, or CSV (`Content-Type: text/csv`, UTF-8) whose header line "
        "names the columns in any order: `external_id` and `score` required, "
        "`preapproved_at`, `name` and `email` optional; an empty cell means not given. At "
        'most 10,000 rows (413 `too_many_rows`). Answers 201 `{"created": N}`; a bad row '
        "stores nothing and is 400 `invalid_rows`, with every bad row named by its number "
        "(from 1) under `fields` as `<row>.<field>`.",
    ),
    "loans_list": (
        "List loans",
        f"Every loan, in the order they were created, paginated. {_LOAN_FILTERS}",
    ),
    "loans_create": (
        "Create a loan",
        "A new loan is pending (`status` 1) and has its whole weekly schedule. "
        '`interest_rate` is flat for the whole term, as a fraction (`"0.10"` is 10 %); '
        "`term_weeks` is 1 to 520. Both default to the service's settings (0.10 and 50 unless "
        "configured otherwise). `total_amount` is `amount` × (1 + `interest_rate`), rounded "
        "half-up to the cent; each instalment is `total_amount` / `term_weeks` rounded down "
        "to the cent, and the last one takes the remainder. Refused with 422 "
        "`customer_inactive`, or `credit_line_exceeded` when `total_amount` is more than the "
        "customer's `available_amount` (the answer names it).",
    ),
    "loans_retrieve": (
        "Get a loan",
        f"The loan with its billing state as of {_AS_OF}: `outstanding`, `paid_amount`, "
        "`overdue_amount`, `missed_installments`, `days_past_due` and `is_delinquent` (2 or "
        "more missed instalments). Only payments made on or before that date count.",
    ),
    "loans_schedule": (
        "Get a loan's schedule",
        "Every instalment of the loan, as one plain list (not paginated): `number`, "
        f"`due_date`, `amount`, `paid_amount` and `status` as of {_AS_OF}. Until the loan "
        "is activated, due dates are projected from today.",
    ),
    "loans_activate": (
        "Activate a loan",
        "Makes a pending loan active (`status` 2) from `taken_at` (an ISO 8601 date-time, "
        "not in the future; default now). Instalment k falls due on the local date of "
        "`taken_at` plus 7 × k days. A loan that is not pending: 422 `invalid_state`.",
    ),
    "loans_reject": (
        "Reject a loan",
        "Makes a pending loan rejected (`status` 3); it then owes nothing. Send no body, or "
        "`{}`. A loan that is not pending: 422 `invalid_state`.",
    ),
    "payments_list": (
        "List payments",
        "Every payment, in the order they were recorded, paginated, each with its `details`. "
        "Filters: `customer_external_id`, `status`, `paid_from`, `paid_to`.",
    ),
    "payments_create": (
        "Make a payment",
        "`paid_at` is when the money was received (ISO 8601 date-time; default now; in the "
        "future: 400 `paid_at_in_future`); the service also keeps `recorded_at`, when it "
        "accepted the payment. The customer's payments are applied in order of `paid_at`, "
        "each to the unpaid instalments of the loans activated by then (or of the loan "
        "`loan_external_id` only), oldest due date first (ties: the loan taken first), each "
        "instalment in full before the next; a payment dated before others re-applies them. "
        "`details` says how much went to each loan. A payment that cannot be applied in "
        "full (more than those loans still owe, or nothing to pay) is recorded as rejected "
        "(`status` 2, with a `rejection_reason`) and answered 201 all the same. An unknown "
        "customer or loan, a loan of another customer or one not active at `paid_at`: 400, "
        "and nothing is recorded.",
    ),
    "payments_reverse": (
        "Reverse a payment",
        "Undoes a completed payment (a bounced transfer, a posting error): it becomes "
        "reversed (`status` 3) with `reversed_at` and the `reason` you give (1 to 200 "
        "characters), pays nothing, and the customer's other payments are re-applied by "
        "`paid_at`; a paid loan that owes again becomes active. A rejected or already "
        "reversed payment: 422 `invalid_state`; a reversal that would leave another "
        "completed payment unable to be applied in full: 422 `replay_conflict`, and "
        "nothing changes.",
    ),
    "payments_retrieve": ("Get a payment", "The payment with this `external_id` and its details."),
    "portfolio_retrieve": (
        "Portfolio risk",
        "Active loans, gross outstanding and outstanding principal, PAR 1/7/30/90, loans by "
        "days-past-due bucket and the delinquent loans and customers, as of `as_of` and as "
        "known at `known_at`; with `from`/`to`, also the on-time collection of that period.",
    ),
    "loans_delinquency": (
        "A loan's arrears history",
        "Every period in which the loan had missed instalments, up to `as_of`, with the most "
        "days past due and missed instalments in it; `to` is null while it lasts.",
    ),
    "loans_transactions": (
        "Get a loan's statement",
        "The loan's ledger as one plain list: its activation first (`taken_at`, `amount` = "
        "`total_amount`), then every amount a payment gave it, in order of `paid_at`, each "
        "line with the `outstanding` left after it. Reversed payments are not in it; with a "
        "`known_at` before a reversal, the statement reads as it did then.",
    ),
}

# Query parameter name -> description.
QUERY_PARAMETERS: dict[str, str] = {
    "as_of": (
        "A date, `YYYY-MM-DD`: the state is computed as of the end of that day, counting only "
        "payments made on or before it. Default: today."
    ),
    "delinquent": (
        "`true`: only those delinquent as of `as_of` (a loan with 2 or more missed "
        "instalments, a customer with such a loan); `false`: only the others."
    ),
    "known_at": (
        "Recording time: the answer as the service would have given it at this instant "
        "(ISO 8601 date-time; default now; in the future: 400). Only payments, reversals, "
        "activations and rejections recorded by then count."
    ),
    "external_id": "Only the one with exactly this `external_id`.",
    "customer_external_id": "Only those of the customer with this `external_id`.",
    "paid_from": "Only payments made at or after this instant (ISO 8601 date-time).",
    "paid_to": "Only payments made at or before this instant (ISO 8601 date-time).",
    "bucket": (
        "Only loans active as of `as_of` in this days-past-due bucket: `current` (nothing "
        "missed) or one of the buckets the lender configured (`BILLING_DPD_BUCKETS`)."
    ),
    "include": (
        "`state`: each loan also carries its billing state at the list's clock "
        "(`outstanding`, `missed_installments`, `days_past_due`, `is_delinquent`, "
        "`delinquency_bucket`), in a constant number of queries whatever the page size."
    ),
    "dpd_min": "Only loans active as of `as_of` at least this many days past due.",
    "dpd_max": "Only loans active as of `as_of` at most this many days past due.",
    "from": (
        "First day (`YYYY-MM-DD`) of a collection period; give `to` too. The period ends by "
        "`as_of` and lasts less than 3 years."
    ),
    "to": "Last day (`YYYY-MM-DD`) of the collection period that `from` starts.",
}

# First path segment after /api/ -> what the path's {external_id} names.
PATH_RESOURCES = {"customers": "customer", "loans": "loan", "payments": "payment"}

# Enum component -> value -> what the value means (default: its label).
VALUE_MEANINGS: dict[str, dict[object, str]] = {
    "CustomerStatus": {
        1: "may take new loans",
        2: "takes no new loans",
    },
    "LoanStatus": {
        1: "created, waiting to be activated or rejected; counts against the credit line",
        2: "activated: billed weekly, takes payments",
        3: "never activated; owes nothing",
        4: "repaid in full",
    },
    "PaymentStatus": {
        1: "applied to the loans named in `details`",
        2: "recorded but applied to nothing; `rejection_reason` says why",
        3: "undone after it was completed; pays nothing",
    },
    "TransactionType": {
        "activation": "the loan was activated; `amount` is its `total_amount`",
        "payment": "a payment gave the loan `amount`",
    },
    "InstallmentStatus": {
        "paid": "paid in full",
        "partial": "partly paid and not yet missed",
        "due": "nothing paid yet and not yet missed",
        "missed": "due before `as_of` and not paid in full",
    },
}

COMPONENTS: dict[str, str] = {
    "CustomerInputRequest": "A new customer.",
    "PatchedCustomerUpdateRequest": "The fields to change; leave out the others.",
    "CustomerOutput": "A customer.",
    "LoanInputRequest": "A new loan.",
    "LoanActivateInputRequest": "Optional: when the loan was taken (default now).",
    "LoanOutput": "A loan.",
    "LoanDetailOutput": "A loan with its billing state as of `as_of`.",
    "InstallmentOutput": "One weekly instalment and what was paid to it as of `as_of`.",
    "BalanceOutput": "A customer's credit line, debt and what they may still borrow.",
    "BalanceDetailOutput": "A customer's balance and delinquency as of `as_of`.",
    "PaymentInputRequest": "A payment received from a customer.",
    "PaymentOutput": "A payment and how it was applied.",
    "PaymentDetailOutput": "How much of the payment went to one loan.",
    "CustomerBulkCreated": "How many customers were created.",
    "PaymentReverseInputRequest": "Why the payment is reversed.",
    "TransactionOutput": "One line of a loan's statement, with what the loan owed after it.",
}

API_KEY_SCHEME = (
    "Send the header `Authorization: Api-Key <key>`: the word `Api-Key`, one space, then "
    "the key (`python manage.py create_api_key NAME` prints one). In Swagger UI's Authorize "
    "dialog, type the whole value, `Api-Key <key>`."
)

CSV_BODY = (
    "CSV, UTF-8, one customer per line after a header line that names the columns in any "
    "order: `external_id` and `score` are required; `preapproved_at` (ISO 8601 date-time), "
    "`name` and `email` are optional. An empty cell means not given; blank lines are "
    "skipped. The pattern shows the simplest accepted form."
)
