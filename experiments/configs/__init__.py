"""Run configs: one file per paper setup, each a `get_config()` returning an ml_collections ConfigDict."""
