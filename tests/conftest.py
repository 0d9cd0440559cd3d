"""pytest configuration; helpers live in tests/support.py.

Hypothesis runs without per-example deadlines (a loaded 2-core CI machine must not turn a
slow example into a failure; the example budgets are bounded in each test) and without its
example database, so a test run writes nothing into the source tree.
"""

from hypothesis import settings

settings.register_profile("amanat", deadline=None, database=None, print_blob=True)
settings.load_profile("amanat")
