"""The billing engine: plain-Python money arithmetic, no Django, no ORM, no HTTP."""
