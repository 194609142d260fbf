"""CLI commands, one module each (discovered by ``cli.py``)."""
