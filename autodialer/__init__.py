"""autodialer: an outbound auto-dialer for the Asterisk PBX, orchestrated by Prefect.

The core package (`autodialer/`, commands included) never imports `flows/` (tests/test_layout.py):
a command that starts a run finds the flow by its entry point (`autodialer.campaigns.deploy.flow_for`).
"""

__version__ = "0.1.0"
