#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: consul_lock
author: GEANT network services team (@geant)
version_added: 0.1.0
short_description: Take or give back a Consul session lock, so that only one job writes at a time
description:
  - Creates a Consul session with a TTL and behaviour C(release) and acquires the KV key O(key) with it.
    Whoever holds the key is the one writer; the others get RV(acquired=false) and the name of the holder,
    without failing, and are expected to stop (the zone sync playbook ends its play cleanly then).
  - A holder that dies never gives the lock back itself; Consul does, when it invalidates the session because
    its TTL ran out (Consul may take up to twice the TTL) or because the C(serfHealth) check of the node of the
    agent that created it turned critical. The key is free to acquire after O(lock_delay) then.
  - With O(session) and O(state=acquired) the module renews that session and checks that it still holds the
    lock, and fails if it does not - run it before each write of a long job (fencing).
  - O(state=released) releases the key (no lock delay applies then) and destroys the session.
  - The key's value records who holds it (O(holder)), so that the others can report it.
  - Never reports RV(ignore:changed); taking the lock is bookkeeping of a run, not a change of the system.
options:
  # consul_token (its type) and the other connection options: doc fragment geant.consul_dns.consul
  consul_token:
    description: ACL token with C(session:write) on the agent's node and C(key:write) on O(key). Never logged.
  key:
    description: KV key of the lock.
    type: str
    default: consul-dns/lock/zone_sync
  state:
    description:
      - V(acquired) takes the lock (or, with O(session), checks that it is still held and renews it).
      - V(released) gives it back and destroys O(session).
    type: str
    choices: [acquired, released]
    default: acquired
  session:
    description: Session of a lock taken before. Required with O(state=released).
    type: str
  ttl:
    description:
      - Session TTL in seconds (10 to 86400). A holder that dies blocks the others for up to twice this.
      - Longer than the longest run, or the run must check the lock (O(session)) in between.
    type: int
    default: 120
  lock_delay:
    description: Seconds (0 to 60) during which the key cannot be acquired after the session was invalidated.
    type: int
    default: 15
  holder:
    description: Who takes the lock, as the others report it. Default C(user@host pid N).
    type: str
requirements:
  - python-consul2 (or its maintained fork py-consul)
attributes:
  check_mode:
    support: partial
    description: Takes no lock and creates no session; RV(acquired) says whether the lock is free now.
    details: A check mode run of the zone sync therefore runs beside a real one instead of stopping.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Usually run on the controller (C(delegate_to) V(localhost)).
seealso:
  - module: geant.consul_dns.consul_zone_records
  - name: Consul sessions and distributed locks
    description: The session contract (TTL, checks, behaviour, lock-delay).
    link: https://developer.hashicorp.com/consul/docs/automate/session
extends_documentation_fragment:
  - geant.consul_dns.consul
"""

EXAMPLES = r"""
- name: Take the zone sync lock
  geant.consul_dns.consul_lock:
    key: consul-dns/lock/zone_sync
    ttl: 120
  register: sync_lock

- name: Stop quietly when another run holds it
  ansible.builtin.meta: end_play
  when: not sync_lock.acquired

- name: Before pushing, check that the lock is still ours
  geant.consul_dns.consul_lock:
    key: consul-dns/lock/zone_sync
    session: "{{ sync_lock.session }}"

- name: Give it back
  geant.consul_dns.consul_lock:
    key: consul-dns/lock/zone_sync
    session: "{{ sync_lock.session }}"
    state: released
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lock (O(state=acquired)).
  returned: always
  type: bool
  sample: true
released:
  description: Whether the key was released by this call (false when the session no longer held it).
  returned: O(state=released)
  type: bool
  sample: true
session:
  description: The session that holds the lock; V(null) when not acquired.
  returned: always
  type: str
  sample: 9a1c3e0e-4b3f-2a6d-8d5e-0f6a0a1b2c3d
holder:
  description: Who holds the lock now (this run, or the other one); V(null) when nobody does.
  returned: always
  type: str
  sample: root@consul-server02 pid 4711
holder_info:
  description: The key's value - C(holder), C(since) (UTC) and C(session) of the holder.
  returned: always
  type: dict
  sample: {holder: root@consul-server02 pid 4711, since: "2025-11-25T10:00:00Z", session: 9a1c3e0e-4b3f-2a6d-8d5e-0f6a0a1b2c3d}
key:
  description: The lock's KV key.
  returned: always
  type: str
  sample: consul-dns/lock/zone_sync
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: lock consul-dns/lock/zone_sync is held by root@consul-server02 pid 4711 since 2025-11-25T10:00:00Z
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import CONSUL_IMPORT_ERROR, ConsulError
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.options import (
    consul_argument_spec,
    kv_from_params,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.kv import ConsulLock
from ansible_collections.geant.consul_dns.plugins.module_utils.sync.lock_keeper import holder_name


def main():
    spec = consul_argument_spec()
    spec.update(
        key=dict(type="str", default="consul-dns/lock/zone_sync", no_log=False),
        state=dict(type="str", default="acquired", choices=["acquired", "released"]),
        session=dict(type="str"),
        ttl=dict(type="int", default=120),
        lock_delay=dict(type="int", default=15),
        holder=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=spec, required_if=[("state", "released", ["session"])],
                           supports_check_mode=True)
    if CONSUL_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("python-consul2 (or py-consul)"), exception=CONSUL_IMPORT_ERROR)
    p = module.params
    result = dict(changed=False, key=p["key"].strip("/"), acquired=False, session=None, holder=None, holder_info={})
    try:
        lock = ConsulLock(kv_from_params(p), p["key"])
        if p["state"] == "released":
            if module.check_mode:
                module.exit_json(msg="check mode: lock %s not released" % lock.key, released=False, **result)
            released = lock.release(p["session"])
            module.exit_json(msg="lock %s %s" % (lock.key, "released" if released else "was no longer held"),
                             released=released, **result)
        if p["session"]:
            info = lock.check(p["session"])
            result.update(acquired=True, session=p["session"], holder=info.get("holder"), holder_info=info)
            module.exit_json(msg="lock %s still held by session %s" % (lock.key, p["session"]), **result)
        if module.check_mode:
            info = lock.holder()
            result.update(acquired=not info.get("session"), holder=info.get("holder"), holder_info=info)
            module.exit_json(msg="check mode: lock %s is %s" % (
                lock.key, "free" if result["acquired"] else "held by %s" % info.get("holder")), **result)
        acquired, session, info = lock.acquire(holder_name("consul_lock module", os.getpid(), configured=p["holder"]), ttl=p["ttl"], lock_delay=p["lock_delay"])
    except (ConsulError, ValueError) as exc:
        module.fail_json(msg="consul_lock %s: %s" % (p["key"], to_native(exc)), **result)

    result.update(acquired=acquired, session=session, holder=info.get("holder"), holder_info=info)
    if acquired:
        msg = "lock %s acquired by %s (session %s)" % (lock.key, info["holder"], session)
    elif info.get("holder"):
        msg = "lock %s is held by %s since %s (session %s); another sync is running" % (
            lock.key, info["holder"], info.get("since", "?"), info.get("session"))
    else:
        msg = ("lock %s is not free yet: its last holder's session was invalidated and Consul's lock-delay "
               "is running" % lock.key)
    module.exit_json(msg=msg, **result)


if __name__ == "__main__":
    main()
