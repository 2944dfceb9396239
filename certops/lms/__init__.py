"""The LMS edge: the only package that knows Docebo's wire format."""
