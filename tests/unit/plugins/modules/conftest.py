import pytest

from tests.unit.plugins.modules.harness import patch_exits


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    """exit_json / fail_json raise ModuleExit (harness.py) instead of exiting."""
    patch_exits(monkeypatch)
