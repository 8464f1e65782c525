#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: zone_file
short_description: Write a DNS zone as an RFC 1035 zone file with a managed SOA serial
version_added: 0.1.0
description:
  - Writes the records of one zone, typically the output of the lookup
    P(geant.consul_dns.consul_zone#lookup), together with the
    SOA and apex NS records built from the module options, as a master file (RFC 1035) in one deterministic
    canonical form (every value checked by dnspython).
  - Idempotent. The existing file is compared with the new text without its SOA serial; when it differs (or
    is not in the canonical form, for example edited by hand) it is parsed (a strict parser of the canonical
    form, else dnspython) and compared record by record. When the records, the name servers and the SOA
    parameters are the same, nothing is written and the serial stays. Formatting or comments alone do not
    count as a change.
  - When the zone changed, the SOA serial is advanced in the RFC 1912 form C(YYYYMMDDnn) (UTC date). The
    first change of a day gets C(YYYYMMDD01). When that is not greater than the current serial in RFC 1982
    serial arithmetic (another change on the same day, more than 99 changes in a day, a serial ahead of
    today's date such as a future date or a large counter), the serial is the current one plus 1. So the
    serial always increases, and always by less than 2^31. For example, V(2025013199) is followed by
    V(2025013200), which borrows from the next day's range. A Unix-time serial (smaller than a date serial)
    moves to today's date serial. After 4294967295 the serial wraps to 1, skipping 0.
  - The new text is written to a temporary file in the destination directory, checked with
    C(named-checkzone) (see O(validate)), and then renamed over the old file. An invalid zone never replaces
    the old file, and the owner, group and mode of an existing file are kept unless O(mode), O(owner) or
    O(group) say otherwise.
  - An existing file that cannot be parsed as this zone is replaced, with a warning. Its serial is continued
    when it can still be read. Set O(backup=true) to keep a copy.
author:
  - GEANT network services team (@geant)
requirements:
  - dnspython >= 2.0
  - named-checkzone (bind9-utils or bind-utils) when O(validate) is V(auto) or V(always) and validation is wanted
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    description: Nothing is written. RV(ignore:changed) and the diff (with the new serial) are what a real run would do;
      the new zone is still validated in the module's private temporary directory.
  diff_mode:
    support: full
    description: The diff shows the old and new zone file text.
  platform:
    support: full
    platforms: posix
    description: Target platforms the module can run on.
options:
  path:
    description:
      - The zone file to write. Its directory must exist.
    type: path
    required: true
    aliases: [dest]
  zone:
    description:
      - The zone (origin) name, for example V(geant.services).
    type: str
    required: true
  records:
    description:
      - The records of the zone, as returned by the lookup C(geant.consul_dns.consul_zone) (use C(wantlist=true)).
      - Names are relative to the zone, V(@) is the apex. V(A) and V(AAAA) values are IP addresses. Values of
        other types are given in master file syntax. Names inside them are relative to the zone unless they end
        with a dot.
      - The SOA and the apex NS records come from the other options and cannot be given here.
      - A CNAME next to other data at the same name, or two CNAMEs for one name, is refused.
      - Records of one name and type (one RRset) with different TTLs get the lowest of them, with a warning.
    type: list
    elements: dict
    required: true
  allow_empty:
    description:
      - Allow an empty O(records) list. By default an empty list is refused, so that a failed or empty read of
        the source cannot replace a good zone with an empty one.
    type: bool
    default: false
  nameservers:
    description:
      - Name servers of the zone, for the apex NS records. The first one is the SOA MNAME (primary).
      - Names without a trailing dot are taken as absolute names.
      - A name server inside the zone needs an address record in O(records); C(named-checkzone) rejects the zone
        otherwise.
    type: list
    elements: str
    required: true
  hostmaster:
    description:
      - Mailbox of the person responsible for the zone (SOA RNAME), as V(hostmaster@geant.org) or
        V(hostmaster.geant.org).
      - Defaults to C(hostmaster) at the zone.
    type: str
  default_ttl:
    description:
      - TTL of the C($TTL) directive and, unless O(soa_ttl) is set, of the SOA and apex NS records.
    type: int
    default: 300
  soa_ttl:
    description:
      - TTL of the SOA and apex NS records. Defaults to O(default_ttl).
    type: int
  refresh:
    description: SOA refresh interval in seconds.
    type: int
    default: 3600
  retry:
    description: SOA retry interval in seconds.
    type: int
    default: 600
  expire:
    description: SOA expire time in seconds.
    type: int
    default: 1209600
  negative_ttl:
    description: SOA minimum field, the negative caching TTL (RFC 2308), in seconds.
    type: int
    default: 300
  backup:
    description:
      - Create a backup file including the timestamp information so you can get the original file back if you
        somehow clobbered it incorrectly. Only made when the file is replaced.
    type: bool
    default: false
  validate:
    description:
      - Whether to check the new zone with C(named-checkzone) before it replaces the old file.
      - V(auto) uses C(named-checkzone) when it is found on E(PATH) or in C(/usr/sbin), C(/usr/local/sbin),
        C(/sbin), and skips the check otherwise.
      - V(always) fails when C(named-checkzone) is not found.
      - V(never) skips the check. dnspython still refuses syntax errors.
      - It runs as C(named-checkzone -k fail ZONE FILE), so host name (check-names) errors are fatal as for a
        primary zone in named.
    type: str
    choices: [auto, always, never]
    default: auto
  named_checkzone_path:
    description:
      - Full path of C(named-checkzone). It must exist when set (unless O(validate=never)).
    type: path
notes:
  - The serial uses the UTC date.
  - RV(added) and RV(removed) list records whose name, type, value or TTL changed. A TTL change shows the
    record in both lists.
seealso:
  - name: RFC 1912 section 2.2
    description: Serial numbers in the form YYYYMMDDnn.
    link: https://www.rfc-editor.org/rfc/rfc1912#section-2.2
  - name: RFC 1982
    description: Serial number arithmetic.
    link: https://www.rfc-editor.org/rfc/rfc1982
"""

EXAMPLES = r"""
- name: Write the zone of healthy Consul services
  geant.consul_dns.zone_file:
    path: /etc/bind/zones/db.geant.services
    zone: geant.services
    records: "{{ lookup('geant.consul_dns.consul_zone', zone='geant.services', wantlist=True) }}"
    nameservers:
      - ns1.geant.net.
      - ns2.geant.net.
    hostmaster: hostmaster@geant.org
    backup: true
    owner: root
    group: bind
    mode: "0644"
  register: zone_result
  notify: Reload bind

- name: Records given literally; fail when named-checkzone is missing
  geant.consul_dns.zone_file:
    path: /var/lib/zones/geant.services.zone
    zone: geant.services
    records:
      - {name: crowd, type: A, ttl: 60, value: 1.1.1.10}
      - {name: crowd, type: A, ttl: 60, value: 1.1.1.11}
      - {name: www, type: CNAME, ttl: 300, value: crowd}
    nameservers: [ns1.geant.net.]
    hostmaster: hostmaster@geant.org
    default_ttl: 300
    validate: always
"""

RETURN = r"""
path:
  description: The zone file.
  returned: always
  type: str
  sample: /etc/bind/zones/db.geant.services
zone:
  description: The zone name, normalized (lower case, no trailing dot).
  returned: always
  type: str
  sample: geant.services
serial:
  description: SOA serial of the zone as it is now, or would be in check mode. It is the same as RV(previous_serial)
    when the zone did not change.
  returned: always
  type: int
  sample: 2025112502
previous_serial:
  description: SOA serial of the existing file. V(null) when there was no file or it could not be read as the zone.
  returned: always
  type: int
  sample: 2025112501
records:
  description: Number of records in the zone, not counting the apex SOA and NS.
  returned: always
  type: int
  sample: 6
added:
  description: Records in the new zone that were not in the old file. The apex NS records are included, the SOA is
    not. For a new file, every record.
  returned: always
  type: list
  elements: dict
  sample: [{name: crowd, type: A, ttl: 60, value: 1.1.1.11}]
removed:
  description: Records of the old file that are not in the new zone.
  returned: always
  type: list
  elements: dict
  sample: [{name: cacti, type: A, ttl: 60, value: 1.1.1.10}]
soa_changed:
  description: Whether SOA parameters other than the serial (MNAME, RNAME, timers, SOA TTL) changed.
  returned: always
  type: bool
  sample: false
validated:
  description: Whether named-checkzone checked the new zone.
  returned: always
  type: bool
  sample: true
backup_file:
  description: Name of the backup file that was created.
  returned: changed and O(backup=true)
  type: str
  sample: /etc/bind/zones/db.geant.services.12345.2025-11-25@10:00:00~
named_checkzone_output:
  description: Output of named-checkzone when it rejected the new zone.
  returned: failure
  type: str
  sample: "zone geant.services/IN: NS 'ns1.geant.services' has no address records (A or AAAA)"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

# zone_text guards the dnspython import itself (HAS_DNSPYTHON), so these imports do not fail without it.
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import ZoneSettings
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_file import (
    ZoneFileError,
    stage_zone_file,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_text import (
    DNSPYTHON_IMPORT_ERROR,
    HAS_DNSPYTHON,
)


def argument_spec():
    return dict(
        path=dict(type="path", required=True, aliases=["dest"]),
        zone=dict(type="str", required=True),
        records=dict(type="list", elements="dict", required=True),
        allow_empty=dict(type="bool", default=False),
        nameservers=dict(type="list", elements="str", required=True),
        hostmaster=dict(type="str"),
        default_ttl=dict(type="int", default=300),
        soa_ttl=dict(type="int"),
        refresh=dict(type="int", default=3600),
        retry=dict(type="int", default=600),
        expire=dict(type="int", default=1209600),
        negative_ttl=dict(type="int", default=300),
        backup=dict(type="bool", default=False),
        validate=dict(type="str", default="auto", choices=["auto", "always", "never"]),
        named_checkzone_path=dict(type="path"),
    )


def zone_settings(params):
    zone = params["zone"]
    try:
        return ZoneSettings(
            zone, params["nameservers"], params["hostmaster"] or "hostmaster.%s" % zone.rstrip("."),
            default_ttl=params["default_ttl"], refresh=params["refresh"], retry=params["retry"],
            expire=params["expire"], negative_ttl=params["negative_ttl"], soa_ttl=params["soa_ttl"])
    except ValueError as exc:
        raise ZoneFileError("invalid zone settings: %s" % exc)


def run_zone_file(module, today=None):
    """The module's work over the zone file publisher; returns the result or raises ZoneFileError."""
    params = module.params
    path = params["path"]
    staged = stage_zone_file(path, zone_settings(params), params["records"], validate=params["validate"],
                             allow_empty=params["allow_empty"], today=today, run_command=module.run_command,
                             checker_path=params["named_checkzone_path"],
                             tmp_dir=module.tmpdir if module.check_mode else None)
    for warning in staged.warnings:
        module.warn(warning)
    if module.check_mode:
        staged.discard()
    else:
        staged.commit(lambda tmp, dest: module.atomic_move(tmp, dest, unsafe_writes=params["unsafe_writes"]),
                      backup=module.backup_local if params["backup"] else None)
    result = staged.result()

    attr_diff = {"before": {"path": path}, "after": {"path": path}}
    if staged.existing_text is not None or not module.check_mode:
        file_args = module.load_file_common_arguments(params)
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"], diff=attr_diff)
    if module._diff:
        content_diff = staged.diff()
        if len(attr_diff["before"]) > 1 or len(attr_diff["after"]) > 1:
            result["diff"] = [content_diff, attr_diff]
        else:
            result["diff"] = content_diff
    return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib("dnspython"), exception=DNSPYTHON_IMPORT_ERROR)
    try:
        result = run_zone_file(module)
    except ZoneFileError as exc:
        module.fail_json(msg=exc.msg, path=module.params["path"], **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
