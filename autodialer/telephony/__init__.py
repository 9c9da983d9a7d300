"""Talking to Asterisk.

- `ami`: the process's one AMI session (AmiSession), a thin wrapper over panoramisk 1.4.
- `engine`: DialEngine.originate(): one call, awaited to its end, as a CallResult.
- `classify`: how Reason / Q.850 causes / DIALSTATUS become a CallStatus (table-driven).
- `callfiles`: the spool method: write call files atomically, read results from outgoing_done.
"""
