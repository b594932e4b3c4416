"""Requests that build a large answer in memory (the exports)."""
import gc
from contextlib import contextmanager


@contextmanager
def collector_paused():
    """Python's cyclic garbage collector paused while a bulk answer is built.

    An export loads tens of thousands of objects that all live until the file is
    written; each collection the allocations trigger walks them all again (measured
    with bench/dashboard.py --exports, 300 patients: 60 % of the check-ins CSV's time
    and of the FHIR bundle's). Reference counting still frees what is dropped; the
    collector runs again once the answer is built, for the cycles, if it was on before.
    Usable as a decorator.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
