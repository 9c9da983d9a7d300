"""How many calls a campaign may have dialing at once: fixed (simultaneous calls and originates
per second), progressive or predictive (the operators free in its queue, the abandonment cap).
`settings` is the campaign file's `pacing:` section, `pacers` the pacer a run dials through."""
