"""What a campaign's results are shown as: the compliance report (did the rules hold?) and the
campaign table of the Prefect UI and `autodialer status`."""
