"""`qm acls …`: the Kafka ACL set of the services, applied by the broker's super user."""

from __future__ import annotations

import typer

from services.cli.context import console, fail, run, settings
from services.common.acls import apply_acls, markdown_table
from services.common.security import SecurityConfigError, tls_context

app = typer.Typer(help="Kafka authorisation: one principal per service.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print the ACL set (principal, topics read and written, groups)."""
    console.print(markdown_table())


@app.command("apply")
def apply() -> None:
    """Create the ACL set on the cluster (idempotent) as QM_KAFKA_ADMIN_USER (default admin);
    needs QM_KAFKA_ADMIN_PASSWORD.

    Over SASL_SSL when QM_KAFKA_SECURITY_PROTOCOL says so (CA from QM_KAFKA_SSL_CAFILE).
    """
    admin_user = settings().kafka_admin_user
    password = settings().kafka_admin_password.get_secret_value()
    if not password:
        fail("set QM_KAFKA_ADMIN_PASSWORD to the broker super user's password")
    try:
        context = tls_context()
    except SecurityConfigError as err:
        fail(str(err))
    try:
        count = run(
            apply_acls(settings().kafka_bootstrap, admin_user, password, ssl_context=context)
        )
    except Exception as err:  # the broker's refusal or absence, said in one line
        fail(f"could not apply ACLs on {settings().kafka_bootstrap}: {err}")
    console.print(f"{count} ACL bindings in place")
