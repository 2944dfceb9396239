"""certops: configuration-as-code for certification programs in the Docebo LMS."""

__version__ = "0.1.0"
