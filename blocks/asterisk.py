"""Prefect Block types: configuration that operators edit in the Prefect UI.

Register them once with `prefect block register -m blocks.asterisk` (README: "Running on a schedule").
Secrets are SecretStr: the UI and the API show them masked, logs never see them.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from autodialer.config import AmiSettings, check_database_url, parse_ami_url
from autodialer.telephony.safety import check_token


class AsteriskAMI(Block):
    """The AMI connection to one Asterisk server: where the dialer sends Originate.

    Use one block per Asterisk server; a campaign can name several to spread its calls.
    """

    _block_type_name = "Asterisk AMI"
    _block_type_slug = "asterisk-ami"
    _documentation_url = "https://github.com/autodialer/autodialer#blocks"
    _code_example = '''
```python
from blocks.asterisk import AsteriskAMI

ami = AsteriskAMI.load("BLOCK_NAME")
settings = ami.settings()  # host, port, username, secret for the dial engine
```
'''

    host: str = Field(default="127.0.0.1", description="Host name or address of the Asterisk server.")
    port: int = Field(default=5038, ge=1, le=65535, description="AMI TCP port (manager.conf `port`).")
    username: str = Field(default="dialer", description="AMI user from manager.conf.")
    secret: SecretStr = Field(description="AMI secret of that user.")
    outbound_context: str = Field(
        default="dialer-outbound", description="Dialplan context every first leg goes through (the trunk)."
    )

    def settings(self) -> AmiSettings:
        check_token(self.outbound_context, field="outbound_context")
        return AmiSettings(host=self.host, port=self.port, username=self.username, secret=self.secret.get_secret_value())

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "AsteriskAMI":
        s = parse_ami_url(url, source="url")
        return cls(host=s.host, port=s.port, username=s.username, secret=s.secret, **kwargs)


class OutcomeDatabase(Block):
    """The database where contacts, attempts and outcomes are stored for analysts."""

    _block_type_name = "Autodialer Outcome Database"
    _block_type_slug = "autodialer-outcome-database"
    _documentation_url = "https://github.com/autodialer/autodialer#outcome-tables-for-analysts"
    _code_example = '''
```python
from blocks.asterisk import OutcomeDatabase

db = OutcomeDatabase.load("BLOCK_NAME")
url = db.url.get_secret_value()
```
'''

    url: SecretStr = Field(
        description="SQLAlchemy URL, e.g. postgresql+psycopg2://user:password@host:5432/autodialer."
    )

    def sqlalchemy_url(self) -> str:
        return check_database_url(self.url.get_secret_value(), source=f"block {self._block_document_name or 'OutcomeDatabase'}.url")


class CdrDatabase(Block):
    """Asterisk's CDR database (cdr_pgsql's table): where the recall flow finds missed calls and
    where a run resolves the calls whose end the AMI did not show. The password is a secret: the
    UI and API show it masked and it is never a flow parameter Prefect stores in clear."""

    _block_type_name = "Asterisk CDR Database"
    _block_type_slug = "asterisk-cdr-database"
    _documentation_url = "https://github.com/autodialer/autodialer#recall-of-missed-calls-campaignsrecallyaml-kind-recall-flowsrecallpy"
    _code_example = '''
```python
from blocks.asterisk import CdrDatabase

cdr = CdrDatabase.load("BLOCK_NAME")
url = cdr.sqlalchemy_url()
```
'''

    host: str = Field(default="127.0.0.1", description="Host of the PostgreSQL server cdr_pgsql writes to.")
    port: int = Field(default=5432, ge=1, le=65535, description="Its port.")
    database: str = Field(default="asterisk", description="Database name (cdr_pgsql.conf `dbname`).")
    username: str = Field(default="asterisk", description="A user that may read the CDR table.")
    password: SecretStr = Field(description="That user's password.")
    driver: str = Field(default="postgresql+psycopg2", description="SQLAlchemy driver.")

    def sqlalchemy_url(self) -> str:
        from sqlalchemy.engine import URL

        url = URL.create(self.driver, username=self.username, password=self.password.get_secret_value(),
                         host=self.host, port=self.port, database=self.database)
        return check_database_url(url.render_as_string(hide_password=False),
                                  source=f"block {self._block_document_name or 'CdrDatabase'}")

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "CdrDatabase":
        from sqlalchemy.engine import make_url

        u = make_url(url)
        return cls(driver=u.drivername, host=u.host or "127.0.0.1", port=u.port or 5432, database=u.database or "",
                   username=u.username or "", password=u.password or "", **kwargs)
