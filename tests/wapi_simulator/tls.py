"""Self-signed TLS for the simulator: a trustme CA and a server certificate for 127.0.0.1/localhost.

With a ``cert_dir`` the files are kept there and reused on the next start, so the CA a demo user
configured stays valid across restarts. Without one they go to a fresh temporary directory.
"""
import os
import ssl
import tempfile

CA_FILE = "wapi-simulator-ca.pem"
SERVER_FILE = "wapi-simulator-server.pem"  # private key + certificate chain


def ensure_certs(cert_dir=None):
    """Returns (ca_path, server_pem_path), creating them if missing."""
    cert_dir = cert_dir or tempfile.mkdtemp(prefix="wapi-simulator-")
    os.makedirs(cert_dir, exist_ok=True)
    ca_path = os.path.join(cert_dir, CA_FILE)
    server_path = os.path.join(cert_dir, SERVER_FILE)
    if not (os.path.exists(ca_path) and os.path.exists(server_path)):
        import trustme

        ca = trustme.CA(organization_name="WAPI simulator")
        cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
        ca.cert_pem.write_to_path(ca_path)
        cert.private_key_and_cert_chain_pem.write_to_path(server_path)
    return ca_path, server_path


def server_context(cert_dir=None):
    """Returns (ca_path, ssl.SSLContext for the server)."""
    ca_path, server_path = ensure_certs(cert_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_path)
    return ca_path, context
