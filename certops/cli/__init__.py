"""The command line: thin edges around the pure core."""
