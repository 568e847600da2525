"""Runnable experiment modules: `python -m experiments.<name>`."""
