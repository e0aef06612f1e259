"""CLI commands, one module per group; ``cli.py`` registers them."""
