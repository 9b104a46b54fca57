"""Fixed dates for tests that use the demo data or the calendar.

The demo generator makes its history relative to a present it is given; the
suite gives it :data:`DEMO_NOW`, so the same tickets, tags and statuses come
out on any day the suite runs. :data:`DATES` are the presents at which the
date-sensitive checks run again (``tests/example/test_dates.py``): the day
the suite once failed on, the turn of a year, a leap day and the nights the
clocks change in Berlin (the demo calendar's zone).
"""

from __future__ import annotations

import datetime as dt

#: The demo data's present (naive UTC) for every test that uses the demo.
#: At this moment the old, date-dependent demo had no ticket tagged "refund".
DEMO_NOW = dt.datetime(2026, 12, 7, 15, 0)

#: Presents for the checks that must hold on any day.
DATES = (
    DEMO_NOW,
    dt.datetime(2027, 1, 1, 0, 30),   # New Year's Day, a holiday, just after midnight
    dt.datetime(2028, 2, 29, 12, 0),  # a leap day
    dt.datetime(2027, 3, 28, 1, 30),  # the night the clocks go forward in Berlin
    dt.datetime(2027, 10, 31, 0, 45),  # ... and back
    dt.datetime(2026, 6, 14, 23, 59),  # a Sunday night, just before a Monday
)
