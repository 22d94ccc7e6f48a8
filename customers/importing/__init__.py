"""Import customers from a CSV or JSON file of any size, all or nothing.

``manage.py import_customers`` calls :func:`customer_import`. By concern:

* :mod:`~customers.importing.readers`: the file, read as raw CSV bytes, CSV
  records or JSON elements (ijson, incrementally); no database here.
* :mod:`~customers.importing.fast_path`: the staging table and the customer
  rules written as SQL, which accept at ``COPY`` speed only rows the serializer
  accepts too.
* :mod:`~customers.importing.job`: one import in one transaction: load, judge
  (the serializer for what SQL does not accept as written), store or refuse.
* :mod:`~customers.importing.results`: what an import returns or raises.
"""

from customers.importing.job import FORMATS, MAX_ERRORS, customer_import, import_format
from customers.importing.results import ImportFailed, ImportResult, LineError, Progress

__all__ = [
    "FORMATS",
    "MAX_ERRORS",
    "ImportFailed",
    "ImportResult",
    "LineError",
    "Progress",
    "customer_import",
    "import_format",
]
