"""The dial path of a run: the one place that builds a run (run: hold_run, open_run), one
attempt on one contact (dialing.ContactDialer), the local journal of results the database
could not take yet, the run's lease, the recovery of a dead run's attempts and the operators'
pause switch. Prefect-free but for the pause switch (Prefect Variables): flows/ drives it."""
