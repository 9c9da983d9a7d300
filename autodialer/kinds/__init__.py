"""What differs per campaign kind: click-to-call (callback), conference assembly (conference)
and the survey robot's script (survey). Recall of missed calls is its own package
(autodialer/recall/)."""
