"""How the client talks to a Dask cluster safely (issue 22: clusters secured as Dask documents).

A Dask scheduler runs whatever code its clients send, and so do its workers. Dask's answer
(distributed documentation, "TLS/SSL" and "Security") is mutual TLS: the scheduler, the workers and
every client hold certificates signed by one certificate authority, the scheduler listens on a
``tls://`` address, and a peer without a certificate of that authority cannot connect. Without
TLS, the only safe cluster is one bound to this machine (``dask scheduler --host 127.0.0.1``).

``client_security(address, security)`` gives the ``distributed.security.Security`` the client
connects with: the one given (a program, or the tests' ``Security.temporary()``), else Dask's own
configuration, read by ``Security()`` from ``distributed.comm.tls.*`` (environment variables
``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``, ``DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT``,
``DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY``, or a Dask YAML file). Refused with a ScenarioError
(exit 2) before any connection: a ``tls://`` address with no CA or no client certificate configured,
or certificate files that do not exist. A plain ``tcp://`` address on another machine is allowed
(a private network may be trusted) but logged as a warning saying that anyone who reaches that
scheduler runs code on it.

``connect_hint(address)``: what to try when the connection itself fails (a TLS scheduler reached
with ``tcp://`` resets the connection; a bad certificate fails the handshake).
"""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
from typing import Any
from urllib.parse import urlsplit

from optimizer.inputs.errors import Problem, ScenarioError

LOG = logging.getLogger("rigshift.cluster")
TLS_SETTINGS = ("DASK_DISTRIBUTED__COMM__TLS__CA_FILE, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT and "
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY")


def _scheme_host(address: str) -> tuple[str, str]:
    text = address if "://" in address else f"tcp://{address}"
    parts = urlsplit(text)
    return parts.scheme.lower(), parts.hostname or ""


def is_local(host: str) -> bool:
    """True for a loopback address or a name that resolves only to loopback addresses."""
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def _pem_or_file(value: str) -> bool:
    return "-----BEGIN" in value or os.path.isfile(value)


def client_security(address: str, security: Any = None) -> Any:
    """The ``Security`` to connect to ``address`` with (see the module docstring); ScenarioError
    naming --scheduler when a ``tls://`` address lacks certificates or a certificate file is missing."""
    from distributed.security import Security

    sec = security if security is not None else Security()  # Dask's configuration: distributed.comm.tls.*
    scheme, host = _scheme_host(address)
    if scheme == "tls":
        missing = [what for what, value in (("certificate authority (CA) file", sec.tls_ca_file),
                                            ("client certificate", sec.tls_client_cert)) if not value]
        if missing:
            raise ScenarioError(Problem("--scheduler", None, None,
                                        f"{address} is a TLS address, but this client has no {' and no '.join(missing)}",
                                        f"give the cluster's CA and a client certificate and key signed by it: {TLS_SETTINGS} "
                                        "(Dask's TLS settings; docs/risk.md)"))
        for what, value in (("CA file", sec.tls_ca_file), ("client certificate", sec.tls_client_cert),
                            ("client key", sec.tls_client_key)):
            if value and not _pem_or_file(str(value)):
                raise ScenarioError(Problem("--scheduler", None, None, f"the Dask TLS {what} '{value}' does not exist",
                                            f"check {TLS_SETTINGS}"))
    elif not is_local(host):
        LOG.warning("the Dask scheduler %s is reached over plain %s:// with no authentication: anyone who can reach it "
                    "runs code on it and on its workers; use a tls:// scheduler with certificates (docs/risk.md)",
                    address, scheme)
    return sec


def connect_hint(address: str) -> str:
    """What to try when connecting to ``address`` failed."""
    scheme, _ = _scheme_host(address)
    if scheme == "tls":
        return ("check that `dask scheduler` is running there with TLS, and that this client's certificate is signed "
                f"by the cluster's CA ({TLS_SETTINGS})")
    return ("start one with `dask scheduler` and give its tcp://HOST:PORT; a scheduler started with TLS certificates "
            "is reached with tls://HOST:PORT and the client's certificates (docs/risk.md)")
