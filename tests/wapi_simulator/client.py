"""Minimal requests-based client for tests that talk raw WAPI to the simulator.

It passes ``verify`` on every call: requests lets REQUESTS_CA_BUNDLE (set in many CI images)
override ``Session.verify``, but not a per-request argument.
"""
import requests


class WapiTestClient:
    def __init__(self, server, version="2.12", auth=True):
        self.server = server
        self.base = server.wapi_url(version)
        self.session = requests.Session()
        if auth:
            self.session.auth = (server.username, server.password)

    def request(self, method, path, **kwargs):
        kwargs.setdefault("verify", self.server.ca_path)
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def control(self, method, path, **kwargs):
        """Call the private /_sim/ API (no auth needed)."""
        kwargs.setdefault("verify", self.server.ca_path)
        return requests.request(method, "%s/_sim/%s" % (self.server.url, path), timeout=30, **kwargs)


def wapi_json(server, method, path, **kwargs):
    """One WAPI call as the simulator's admin; raises on an HTTP error, returns the decoded JSON."""
    response = WapiTestClient(server).request(method, path, **kwargs)
    response.raise_for_status()
    return response.json()
