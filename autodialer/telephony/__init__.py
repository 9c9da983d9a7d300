"""Talking to Asterisk.

- `ami`: the process's one AMI session (AmiSession), a thin wrapper over panoramisk 1.4.
- `contract`: what every engine is (`Engine`: place one `CallSpec`, wait until connected, stop a
  ringing call) and the one declaration of a call's fields (`CallSpec`).
- `engine`: DialEngine.place() / .originate(): one call, awaited to its end, as a CallResult.
- `pool`: EnginePool, several servers behind one Engine.
- `classify`: how Reason / Q.850 causes / DIALSTATUS become a CallStatus (table-driven).
- `callfiles`: the spool method: write call files atomically, read results from outgoing_done;
  CallFileEngine places a CallSpec that way.
"""
