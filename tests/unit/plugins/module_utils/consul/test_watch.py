"""Blocking-query index rules, change detection and rate limiting of consul_watch."""

import threading

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.consul.client import ConsulUnavailable
from ansible_collections.geant.consul_dns.plugins.module_utils.consul.watch import (
    BlockingWatch,
    CachedHealthReader,
    HealthCache,
    RateLimit,
    checks_digest,
    next_index,
    services_digest,
)


@pytest.mark.parametrize("previous, returned, expected", [
    (0, "42", 42),      # first answer: its index, as a string from python-consul2
    (42, 42, 42),       # timed out without change
    (42, 57, 57),
    (57, 12, 0),        # went backwards: reset, the next query returns at once
    (0, 0, 1),          # never 0 after an answer, or the next query would not block
    (5, None, 0),       # no index header at all
    (5, "junk", 0),
])
def test_next_index(previous, returned, expected):
    assert next_index(previous, returned) == expected


def check(node, check_id, status, service="", output=""):
    return {"Node": node, "CheckID": check_id, "ServiceID": service, "Status": status, "Output": output}


def test_checks_digest_ignores_output_and_order():
    one = [check("a", "serfHealth", "passing", output="ok"), check("a", "svc", "passing", "svc-1", "200 OK")]
    two = [check("a", "svc", "passing", "svc-1", "200 OK at 12:01"), check("a", "serfHealth", "passing")]
    assert checks_digest(one) == checks_digest(two)
    assert checks_digest(one) != checks_digest([check("a", "svc", "critical", "svc-1"), one[0]])
    assert checks_digest(one) != checks_digest(one[:1])


def test_services_digest():
    assert services_digest({"a": ["x", "y"]}) == services_digest({"a": ["y", "x"]})
    assert services_digest({"a": ["x"]}) != services_digest({"a": ["x"], "b": []})
    assert services_digest(None) == services_digest({})


class Script(object):
    """fetch() answering from a list of (index, data) or exceptions; records the indexes asked for."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.asked = []

    def __call__(self, index, _wait):
        self.asked.append(index)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_watch(script, **kwargs):
    changes = []
    watch = BlockingWatch("checks", script, checks_digest, changes.append, **kwargs)
    return watch, changes


def test_first_answer_is_the_baseline_and_only_real_changes_count():
    passing, critical = [check("n", "c", "passing")], [check("n", "c", "critical")]
    script = Script([(10, passing), (10, passing), (11, passing), (12, critical), (12, critical)])
    watch, changes = make_watch(script)
    for _step in range(5):
        watch.step()
    assert changes == ["checks"]  # the index moving (11) without a status change is not a change
    assert script.asked == [0, 10, 10, 11, 12]


def test_index_is_change_counts_index_moves():
    script = Script([(10, {"a": []}), (10, {"a": []}), (11, {"a": []})])
    changes = []
    watch = BlockingWatch("services", script, services_digest, changes.append, index_is_change=True)
    for _step in range(3):
        watch.step()
    assert changes == ["services"]


def test_index_going_backwards_resets_and_reports():
    script = Script([(50, {"a": []}), (20, {"a": []}), (21, {"a": []})])
    changes = []
    watch = BlockingWatch("services", script, services_digest, changes.append, index_is_change=True)
    for _step in range(3):
        watch.step()
    assert script.asked == [0, 50, 0]
    assert watch.resets == 1
    assert changes == ["services"]  # the reset may hide a change: reported once


def test_errors_back_off_restart_from_zero_and_report_recovery():
    passing = [check("n", "c", "passing")]
    stop = threading.Event()
    errors = []
    script = Script([(10, passing), ConsulUnavailable("down"), (30, passing)])
    changes = []

    def on_change(name):
        changes.append(name)
        stop.set()

    watch = BlockingWatch("checks", script, checks_digest, on_change, on_error=lambda n, e: errors.append(str(e)),
                          min_interval=0, max_backoff=0.01, stop=stop)
    watch.run()
    assert errors == ["down"]
    assert script.asked == [0, 10, 0]
    assert changes == ["checks"]  # same data, but something may have changed while Consul was away


def test_rate_limit():
    now = [100.0]
    rate = RateLimit(2, clock=lambda: now[0])
    assert rate.delay() == 0
    slept = []

    class Stop(object):
        @staticmethod
        def wait(seconds):
            slept.append(seconds)
            now[0] += seconds

    rate.wait(Stop())
    now[0] += 0.5
    rate.wait(Stop())
    assert slept == [1.5]


def entry(node, service):
    return {"Node": {"Node": node}, "Service": {"Service": service, "ID": "%s-%s" % (service, node)}, "Checks": []}


class CountingReader(object):
    def __init__(self, fail=False):
        self.read = []
        self.http_calls = 0
        self.fail = fail

    def health_of(self, names):
        if self.fail:
            raise ConsulUnavailable("down")
        self.read.append(sorted(names))
        return dict((n, [entry("n1" if n != "c" else "n2", n)]) for n in names)


def digest(*checks):
    return checks_digest([dict(check(node, cid, status, sid), ServiceName=name) for node, cid, sid, name, status in checks])


def test_health_cache_rereads_only_what_changed():
    cache = HealthCache()
    counting = CountingReader()
    reader = CachedHealthReader(counting, cache)
    assert set(reader.health_of(["a", "b", "c"])) == {"a", "b", "c"}  # first read: everything
    before = digest(("n1", "ca", "a-n1", "a", "passing"), ("n1", "cb", "b-n1", "b", "passing"),
                    ("n2", "cc", "c-n2", "c", "passing"), ("n2", "serfHealth", "", "", "passing"))

    cache.mark_checks(before, before - {("n1", "ca", "a-n1", "passing", "a")}
                      | {("n1", "ca", "a-n1", "critical", "a")})
    reader.health_of(["a", "b", "c"])
    # A node check moves: every cached service on that node.
    cache.mark_checks(before, before - {("n2", "serfHealth", "", "passing", "")}
                      | {("n2", "serfHealth", "", "critical", "")})
    reader.health_of(["a", "b", "c"])
    reader.health_of(["a", "b", "c", "d"])  # a service not cached yet is read
    cache.mark_all()
    reader.health_of(["a", "b"])
    assert counting.read == [["a", "b", "c"], ["a"], ["c"], ["d"], ["a", "b"]]
    assert cache.reused == 2 + 2 + 3


def test_health_cache_keeps_marks_of_a_failed_read():
    cache = HealthCache()
    CachedHealthReader(CountingReader(), cache).health_of(["a", "b"])
    before = digest(("n1", "ca", "a-n1", "a", "passing"))
    cache.mark_checks(before, digest(("n1", "ca", "a-n1", "a", "critical")))
    with pytest.raises(ConsulUnavailable):
        CachedHealthReader(CountingReader(fail=True), cache).health_of(["a", "b"])
    counting = CountingReader()
    CachedHealthReader(counting, cache).health_of(["a", "b"])
    assert counting.read == [["a"]]


def test_watch_hands_both_digests_to_on_data():
    seen = []
    script = Script([(1, [check("n", "c", "passing")]), (2, [check("n", "c", "critical")])])
    watch = BlockingWatch("checks", script, checks_digest, lambda name: None,
                          on_data=lambda previous, current: seen.append((previous, current)))
    watch.step()
    watch.step()
    assert seen == [(checks_digest([check("n", "c", "passing")]), checks_digest([check("n", "c", "critical")]))]
