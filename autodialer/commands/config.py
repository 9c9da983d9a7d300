HELP = "show the effective configuration (secrets redacted) and check it"


def add_arguments(parser):
    pass


def run(args) -> int:
    from autodialer import config

    ami = config.ami_settings()
    print(f"{config.AMI_URL_VAR}={ami.redacted_url()}")
    print(f"{config.DATABASE_URL_VAR}={config.redact_database_url(config.database_url())}")
    return 0
