"""Self-signed TLS for the simulator: a trustme CA and a server certificate for 127.0.0.1/localhost/::1.

With a ``cert_dir`` the files are kept there and reused on the next start, so the CA a demo user
configured stays valid across restarts. Without one they go to a fresh temporary directory.

``hosts`` adds names the server certificate must also cover, such as the address the simulator
listens on when it is not one of those three (``--host 10.88.0.1``: containers reach it there and check the
certificate against that address). Kept files are reused when their certificate covers every name;
otherwise the CA and the certificate are made anew (the CA's key is not kept).
"""
import ipaddress
import os
import re
import ssl
import tempfile

CA_FILE = "wapi-simulator-ca.pem"
SERVER_FILE = "wapi-simulator-server.pem"  # private key + certificate chain
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _normalize(name):
    """An IP address in canonical form, or a host name in lower case without a trailing dot."""
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return name.lower().rstrip(".")


def certificate_names(hosts=()):
    """The names of the server certificate: the loopback ones, then each extra host once.

    The unspecified addresses (0.0.0.0, ::) listen everywhere but name nothing: left out.
    """
    names = list(LOOPBACK_NAMES)
    seen = set(_normalize(n) for n in names)
    for host in hosts or ():
        if not host:
            continue
        key = _normalize(host)
        if key in seen or key in ("0.0.0.0", "::"):
            continue
        seen.add(key)
        names.append(key)
    return names


def covered_names(server_path):
    """The normalized DNS names and IP addresses of the certificate in a server PEM file."""
    from cryptography import x509

    with open(server_path, "rb") as handle:
        match = re.search(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", handle.read(), re.S)
    if match is None:
        return set()
    cert = x509.load_pem_x509_certificate(match.group(0))
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return (set(_normalize(n) for n in san.get_values_for_type(x509.DNSName))
            | set(str(a) for a in san.get_values_for_type(x509.IPAddress)))


def ensure_certs(cert_dir=None, hosts=()):
    """Returns (ca_path, server_pem_path), creating them if missing or not covering ``hosts``."""
    cert_dir = cert_dir or tempfile.mkdtemp(prefix="wapi-simulator-")
    os.makedirs(cert_dir, exist_ok=True)
    ca_path = os.path.join(cert_dir, CA_FILE)
    server_path = os.path.join(cert_dir, SERVER_FILE)
    names = certificate_names(hosts)
    present = os.path.exists(ca_path) and os.path.exists(server_path)
    if present and len(names) > len(LOOPBACK_NAMES):
        # Only a request for more than the loopback names reads the kept certificate.
        present = set(_normalize(n) for n in names) <= covered_names(server_path)
    if not present:
        import trustme

        ca = trustme.CA(organization_name="WAPI simulator")
        cert = ca.issue_cert(*names)
        ca.cert_pem.write_to_path(ca_path)
        cert.private_key_and_cert_chain_pem.write_to_path(server_path)
    return ca_path, server_path


def server_context(cert_dir=None, hosts=()):
    """Returns (ca_path, ssl.SSLContext for the server)."""
    ca_path, server_path = ensure_certs(cert_dir, hosts)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_path)
    return ca_path, context
