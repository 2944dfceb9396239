"""The pure core: the certification lifecycle and the desired state compiled from it.

Everything here is a function of the config, facts read from the LMS, and an instant
``t``; nothing reads a clock or does I/O. ``lifecycle`` applies docs/lifecycle.md to one
learner, ``enrollments`` turns the states into enrollment changes, ``safety`` decides when a
plan suspends too many learners to apply unattended.
"""
