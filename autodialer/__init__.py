"""autodialer: an outbound auto-dialer for the Asterisk PBX, orchestrated by Prefect.

The core package (telephony, lists, outcomes, store, pacing) never imports `flows/`.
"""

__version__ = "0.1.0"
