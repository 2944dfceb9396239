"""``certops report``: every learner's certification in every product at an instant.

``rows`` builds the records from the configuration, a live snapshot and the instant (the
same engine as ``plan`` and ``status``); ``summary`` aggregates them for the HTML report;
``csvfmt``, ``jsonfmt``, ``jsonlfmt``, ``table`` and ``html`` write them, and ``charts``
draws the HTML report's charts (matplotlib, imported only there).
"""
