"""Plans: the ordered list of changes, their digest, and their renderings."""
