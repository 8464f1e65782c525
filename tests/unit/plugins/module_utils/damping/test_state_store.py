"""KV encoding of the damping state: plain JSON, compressed when large."""

import json

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.damping.state_store import (
    PLAIN_STATE_LIMIT,
    state_from_text,
    state_text,
)


def document(count):
    return {"version": 1, "zone": "geant.services", "updated_by": "test", "updated_at": 1,
            "addresses": dict(("svc%05d/10.0.%d.%d" % (i, i >> 8 & 255, i & 255),
                               {"healthy": True, "since": 1.5 + i, "published": True, "penalty": 0.0,
                                "penalty_at": 1.0, "suppressed": False, "flaps": 0}) for i in range(count))}


def test_small_state_stays_plain_json():
    text = state_text(document(3))
    assert json.loads(text)["addresses"] == document(3)["addresses"]
    assert state_from_text(text) == document(3)


def test_large_state_is_compressed_and_round_trips():
    big = document(10000)
    text = state_text(big)
    assert len(json.dumps(big)) > 3 * PLAIN_STATE_LIMIT and len(text) < 512 * 1024
    wrapper = json.loads(text)
    assert wrapper["encoding"] == "zlib+base64" and wrapper["addresses_count"] == 10000
    assert wrapper["zone"] == "geant.services" and "addresses" not in wrapper
    assert state_from_text(text) == big


def test_broken_compressed_state_is_a_value_error():
    with pytest.raises(ValueError, match="cannot be decoded"):
        state_from_text(json.dumps({"encoding": "zlib+base64", "data": "bm90IHpsaWI="}))
