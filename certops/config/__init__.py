"""Configuration: YAML loading with positions, schema and semantic checks, typed model."""
