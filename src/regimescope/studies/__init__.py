"""Studies: one module per published claim, each ending in a pre-registered verdict."""
