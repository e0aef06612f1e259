"""regimescope: tell a model's surface behaviour apart from the training regime behind it.

The package is a small library plus a CLI. Dependencies point one way:
``organisms``, ``tasks`` <- ``regimes``, ``instruments`` <- ``studies`` <- ``cli``;
``report`` reads the run store only.
"""

__version__ = "0.1.0"
