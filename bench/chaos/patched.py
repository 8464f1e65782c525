"""A temporary copy of the collection with a safety removed, to prove the soak's checks can fail.

Never a switch in the product: the copy's source is edited as text, and every edit must find the line it
replaces (so a change in the product that moves it fails here loudly instead of testing nothing).

- ``lock``: the engine never takes the lock for a run, and the watch service never stands by: every
  writer writes whenever it likes.
- ``shrink-guard``: the damping's shrink guard and Infoblox's change-ratio valve (the two guards against a
  sudden loss of records) never refuse.
- ``state-warning``: a corrupt (unreadable) damping state is rebuilt without the warning that says so.
"""
import shutil
import tempfile
from pathlib import Path

from bench import REPO_ROOT

COPIED = ("galaxy.yml", "meta", "plugins", "playbooks", "roles")
PATCHES = {
    "lock": [
        ("plugins/module_utils/sync/engine.py", 'if self.settings["lock_enabled"] and not check_mode:',
         "if False:  # chaos patch: lock removed"),
        ("plugins/module_utils/sync/watch.py", 'self.lock_enabled = s["lock_enabled"]',
         "self.lock_enabled = False  # chaos patch: lock removed"),
    ],
    "shrink-guard": [
        ("plugins/module_utils/damping/decision.py",
         "        before = set((n, a) for n, addrs in previous.items() for a in addrs)\n",
         "        return None  # chaos patch: shrink guard removed\n"),
        ("plugins/module_utils/infoblox/plan.py",
         "if owned and owned >= policy.min_records_for_ratio and touched > policy.max_change_ratio * owned:",
         "if False:  # chaos patch: change ratio removed"),
    ],
    "state-warning": [
        ("plugins/module_utils/damping/state_store.py",
         'return None, ["damping state at Consul key %s is unreadable (%s): starting clean" % (self.key, exc)]',
         "return None, []  # chaos patch: the unreadable state's warning removed"),
    ],
}


def patched_collection(removed, base=None):
    """A folder holding ``ansible_collections/geant/consul_dns``: this checkout with ``removed`` taken out.
    The caller removes the folder (``shutil.rmtree``)."""
    top = Path(tempfile.mkdtemp(prefix="chaos-without-%s-" % removed, dir=base))
    root = top / "ansible_collections" / "geant" / "consul_dns"
    root.mkdir(parents=True)
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, root / name)
    for relative, old, new in PATCHES[removed]:
        path = root / relative
        text = path.read_text()
        if text.count(old) != 1:
            shutil.rmtree(top, ignore_errors=True)
            raise RuntimeError("cannot remove %s: %r is not once in %s" % (removed, old, relative))
        path.write_text(text.replace(old, new))
    return top
