"""The campaign file (`campaigns/<name>.yaml`): its model and loader (campaign), the Prefect
deployments made from the files (deploy) and the masking of personal data for what is
sent to Prefect (privacy)."""
