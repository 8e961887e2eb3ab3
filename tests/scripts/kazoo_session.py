#!/usr/bin/env python3
"""A scripted kazoo session for the interop test (tests/tests/t20_interop.rs).

Usage: python3 tests/scripts/kazoo_session.py HOST:PORT

Runs the same steps against whatever server it is pointed at and prints one JSON object per
line, already normalized so that two correct servers print the same lines:
  * zxids become their rank among every zxid this run saw ("z1", "z2", ...), so order and
    equality are kept and absolute values (and gaps) are not;
  * ctime/mtime become "t" when plausible (within a minute of the run), "t?<value>" otherwise;
  * session ids become "A", "B" (the two sessions of the run) or "0";
  * watch events are captured as they come off the wire, before kazoo's own bookkeeping, so
    persistent and recursive watches are seen too.
kazoo 2.11 has no API for containers, TTL nodes or addWatch; those requests are sent through
kazoo's connection with request classes written here, in kazoo's own serialization style.
Exit status 0 when the script ran to the end (differences are the caller's business), 2 on a
usage error, 1 on an unexpected exception (printed as a last "fatal" line).
"""

import json
import os
import struct
import sys
import threading
import time
from collections import namedtuple

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, ZookeeperError
from kazoo.handlers.threading import AsyncResult
from kazoo.protocol import connection as kconn
from kazoo.protocol.serialization import int_struct, read_string, stat_struct, write_string
from kazoo.protocol.states import ZnodeStat
from kazoo.security import CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, make_digest_acl

ROOT = "/interop-kazoo"
REAP = ROOT + "/reap"
# How long to wait for the server to reap a container or TTL node (check interval is 500 ms).
REAP_WAIT_S = 20.0
# The whole session's limit (the Rust caller's own limit is 240 s).
WATCHDOG_S = 200.0

OUT = []  # records, printed at the end once zxids can be ranked
ZXIDS = set()
SESSIONS = {}
T0_MS = int(time.time() * 1000)


class Z(int):
    """A zxid, ranked at the end."""


def rec(step, **fields):
    OUT.append(dict(step=step, **fields))


# --- requests kazoo 2.11 cannot build ------------------------------------------------------


def _acl_bytes(acls):
    b = bytearray(int_struct.pack(len(acls)))
    for acl in acls:
        b.extend(int_struct.pack(acl.perms) + write_string(acl.id.scheme) + write_string(acl.id.id))
    return b


def _buffer(data):
    return int_struct.pack(len(data)) + data


class CreateContainer(namedtuple("CreateContainer", "path data acl flags")):
    type = 19

    def serialize(self):
        b = bytearray(write_string(self.path))
        b.extend(_buffer(self.data))
        b.extend(_acl_bytes(self.acl))
        b.extend(int_struct.pack(self.flags))
        return b

    @classmethod
    def deserialize(cls, bytes, offset):
        path, offset = read_string(bytes, offset)
        return path, ZnodeStat._make(stat_struct.unpack_from(bytes, offset))


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    type = 21

    def serialize(self):
        b = bytearray(write_string(self.path))
        b.extend(_buffer(self.data))
        b.extend(_acl_bytes(self.acl))
        b.extend(int_struct.pack(self.flags))
        b.extend(struct.pack("!q", self.ttl))
        return b

    @classmethod
    def deserialize(cls, bytes, offset):
        path, offset = read_string(bytes, offset)
        return path, ZnodeStat._make(stat_struct.unpack_from(bytes, offset))


class AddWatch(namedtuple("AddWatch", "path mode")):
    type = 106

    def serialize(self):
        return bytearray(write_string(self.path) + int_struct.pack(self.mode))

    @classmethod
    def deserialize(cls, bytes, offset):
        return int_struct.unpack_from(bytes, offset)[0]


def call(client, request):
    result = AsyncResult(client.handler)
    client._call(request, result)
    return result.get(timeout=30)


# --- watch events, straight off the wire ---------------------------------------------------

EVENT_NAMES = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged"}
_orig_read_watch_event = kconn.ConnectionHandler._read_watch_event


def _recording_read_watch_event(self, buffer, offset):
    watch, _ = kconn.Watch.deserialize(buffer, offset)
    self.client.interop_events.append("%s %s" % (EVENT_NAMES.get(watch.type, watch.type), watch.path))
    return _orig_read_watch_event(self, buffer, offset)


kconn.ConnectionHandler._read_watch_event = _recording_read_watch_event


def events(client, step):
    """Records and clears the events `client` received so far. A sync first: its reply comes
    after every notification the server queued before it."""
    client.sync("/")
    got, client.interop_events[:] = list(client.interop_events), []
    rec(step, events=got)


# --- normalization -------------------------------------------------------------------------


def stat(s):
    for z in (s.czxid, s.mzxid, s.pzxid):
        ZXIDS.add(z)
    return dict(
        czxid=Z(s.czxid),
        mzxid=Z(s.mzxid),
        pzxid=Z(s.pzxid),
        ctime=when(s.ctime),
        mtime=when(s.mtime),
        version=s.version,
        cversion=s.cversion,
        aversion=s.aversion,
        ephemeralOwner=SESSIONS.get(s.ephemeralOwner, s.ephemeralOwner),
        dataLength=s.dataLength,
        numChildren=s.numChildren,
    )


def when(ms):
    now = int(time.time() * 1000)
    return "t" if T0_MS - 60000 <= ms <= now + 60000 else "t?%d" % ms


def acls(lst):
    return [[a.perms, a.id.scheme, a.id.id] for a in lst]


def err(e):
    return type(e).__name__


def attempt(step, fn, show=lambda v: v):
    """Runs fn; records its shown result or the exception class."""
    try:
        v = fn()
    except (KazooException, ZookeeperError) as e:
        rec(step, error=err(e))
        return None
    rec(step, ok=show(v))
    return v


def finish():
    ranks = {z: "z%d" % (i + 1) for i, z in enumerate(sorted(ZXIDS))}

    def norm(v):
        if isinstance(v, Z):
            return ranks[int(v)]
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        return v

    for r in OUT:
        print(json.dumps(norm(r), sort_keys=False))
    sys.stdout.flush()


# --- the session ---------------------------------------------------------------------------


def client(hosts):
    c = KazooClient(hosts=hosts, timeout=10.0)
    c.interop_events = []
    c.start(timeout=60)
    return c


def wait_gone(c, path):
    deadline = time.time() + REAP_WAIT_S
    while time.time() < deadline:
        if c.exists(path) is None:
            return "gone"
        time.sleep(0.2)
    return "still there"


def run(hosts):
    a = client(hosts)
    b = client(hosts)
    SESSIONS[a.client_id[0]] = "A"
    SESSIONS[b.client_id[0]] = "B"
    SESSIONS[0] = "0"

    # Every create mode.
    attempt("create root", lambda: a.create(ROOT, b"root"))
    attempt("create persistent", lambda: a.create(ROOT + "/p", b"v0", include_data=True),
            lambda v: [v[0], stat(v[1])])
    attempt("create ephemeral", lambda: a.create(ROOT + "/e", b"eph", ephemeral=True, include_data=True),
            lambda v: [v[0], stat(v[1])])
    attempt("create sequential", lambda: a.create(ROOT + "/s-", b"", sequence=True))
    attempt("create sequential again", lambda: a.create(ROOT + "/s-", b"", sequence=True))
    # Under its own parent: at close, Apache deletes a session's ephemerals in Java HashSet
    # order, so with two ephemerals under one watched parent the event order would hang on it.
    attempt("create ephemeral parent", lambda: a.create(ROOT + "/q", b""))
    attempt("create ephemeral sequential", lambda: a.create(ROOT + "/q/es-", b"", ephemeral=True, sequence=True))
    attempt("create duplicate", lambda: a.create(ROOT + "/p", b""))
    attempt("create no parent", lambda: a.create(ROOT + "/nope/x", b""))
    attempt("create under ephemeral", lambda: a.create(ROOT + "/e/x", b""))
    attempt("create bad path", lambda: a.create(ROOT + "/p/", b""))

    # get/set with versions.
    attempt("get", lambda: a.get(ROOT + "/p"), lambda v: [v[0].decode(), stat(v[1])])
    attempt("set v0", lambda: a.set(ROOT + "/p", b"v1", version=0), stat)
    attempt("set stale version", lambda: a.set(ROOT + "/p", b"v2", version=0), stat)
    attempt("set any version", lambda: a.set(ROOT + "/p", b"v2", version=-1), stat)
    attempt("get after set", lambda: a.get(ROOT + "/p"), lambda v: [v[0].decode(), stat(v[1])])
    attempt("delete bad version", lambda: a.delete(ROOT + "/p", version=7))
    attempt("set missing", lambda: a.set(ROOT + "/missing", b"x"))
    attempt("exists", lambda: a.exists(ROOT + "/p"), stat)
    attempt("exists missing", lambda: a.exists(ROOT + "/missing"))
    attempt("children", lambda: sorted(a.get_children(ROOT)))

    # Watches of every kind, with the events seen.
    a.create(ROOT + "/w", b"")
    attempt("get with data watch", lambda: a.get(ROOT + "/w", watch=lambda e: None)[0].decode())
    a.set(ROOT + "/w", b"1")
    a.set(ROOT + "/w", b"2")  # one-shot: no second event
    events(a, "data watch events")
    attempt("exists watch on missing", lambda: a.exists(ROOT + "/x", watch=lambda e: None))
    a.create(ROOT + "/x", b"")
    events(a, "exists watch events")
    attempt("child watch", lambda: sorted(a.get_children(ROOT + "/w", watch=lambda e: None)))
    a.create(ROOT + "/w/k1", b"")
    a.set(ROOT + "/w/k1", b"data change on a child fires no child watch")
    events(a, "child watch events")
    attempt("add persistent watch", lambda: call(a, AddWatch(ROOT + "/w", 0)))
    a.set(ROOT + "/w", b"3")
    a.set(ROOT + "/w", b"4")
    a.create(ROOT + "/w/k2", b"")
    a.delete(ROOT + "/w/k2")
    events(a, "persistent watch events")
    a.create(ROOT + "/deep", b"")
    attempt("add persistent recursive watch", lambda: call(a, AddWatch(ROOT + "/deep", 1)))
    a.create(ROOT + "/deep/a", b"")
    a.create(ROOT + "/deep/a/b", b"")
    a.set(ROOT + "/deep/a/b", b"x")
    a.delete(ROOT + "/deep/a/b")
    a.set(ROOT + "/deep", b"y")
    events(a, "persistent recursive watch events")
    attempt("watch by another session", lambda: b.get(ROOT + "/w", watch=lambda e: None)[0].decode())
    a.set(ROOT + "/w", b"5")
    events(b, "other session data watch events")
    events(a, "own persistent watch events after other session")

    # multi: success and failure.
    def multi_ok():
        t = a.transaction()
        t.create(ROOT + "/m1", b"m")
        t.check(ROOT + "/p", 2)
        t.set_data(ROOT + "/m1", b"m2")
        t.create(ROOT + "/m2", b"")
        t.delete(ROOT + "/m2")
        return t.commit()

    def show_results(rs):
        out = []
        for r in rs:
            if isinstance(r, Exception):
                out.append(err(r))
            elif isinstance(r, ZnodeStat):
                out.append(stat(r))
            else:
                out.append(r)
        return out

    attempt("multi ok", multi_ok, show_results)

    def multi_fail():
        t = a.transaction()
        t.create(ROOT + "/m3", b"")
        t.create(ROOT + "/p", b"")
        t.set_data(ROOT + "/p", b"never")
        return t.commit()

    attempt("multi failing", multi_fail, show_results)
    attempt("multi failing left nothing", lambda: a.exists(ROOT + "/m3"))

    # ACL with digest auth.
    alice = make_digest_acl("alice", "secret", all=True)
    attempt("digest acl id", lambda: alice.id.id)
    attempt("addauth", lambda: a.add_auth("digest", "alice:secret"))
    attempt("create with digest acl", lambda: a.create(ROOT + "/acl", b"secret", acl=[alice]))
    attempt("get with auth", lambda: a.get(ROOT + "/acl")[0].decode())
    attempt("get without auth", lambda: b.get(ROOT + "/acl"))
    attempt("set without auth", lambda: b.set(ROOT + "/acl", b"x"))
    attempt("setAcl without auth", lambda: b.set_acls(ROOT + "/acl", OPEN_ACL_UNSAFE))
    attempt("getAcl with auth", lambda: a.get_acls(ROOT + "/acl"), lambda v: [acls(v[0]), stat(v[1])])
    attempt("setAcl bad version", lambda: a.set_acls(ROOT + "/acl", [alice] + READ_ACL_UNSAFE, version=3))
    attempt("setAcl", lambda: a.set_acls(ROOT + "/acl", [alice] + READ_ACL_UNSAFE, version=0), stat)
    attempt("get without auth after setAcl", lambda: b.get(ROOT + "/acl")[0].decode())
    attempt("set without auth after setAcl", lambda: b.set(ROOT + "/acl", b"x"))
    attempt("creator acl", lambda: a.create(ROOT + "/mine", b"", acl=CREATOR_ALL_ACL))
    attempt("getAcl creator acl", lambda: a.get_acls(ROOT + "/mine"), lambda v: acls(v[0]))
    attempt("wrong password auth", lambda: b.add_auth("digest", "alice:wrong"))
    attempt("set with wrong password", lambda: b.set(ROOT + "/acl", b"x"))
    attempt("creator acl without auth", lambda: b.create(ROOT + "/b-mine", b"", acl=CREATOR_ALL_ACL))

    # Containers and TTL nodes are reaped by the server.
    # Created last, under their own parent, so that no listing races with the reaper.
    attempt("create reap parent", lambda: a.create(REAP, b""))
    attempt("create container", lambda: call(a, CreateContainer(REAP + "/c", b"", OPEN_ACL_UNSAFE, 4)),
            lambda v: [v[0], stat(v[1])])
    attempt("create container child", lambda: a.create(REAP + "/c/x", b""))
    attempt("create ttl", lambda: call(a, CreateTTL(REAP + "/t", b"", OPEN_ACL_UNSAFE, 5, 1000)),
            lambda v: [v[0], stat(v[1])])
    ts = attempt("create ttl sequential", lambda: call(a, CreateTTL(REAP + "/ts-", b"", OPEN_ACL_UNSAFE, 6, 1000)),
            lambda v: [v[0], stat(v[1])])
    attempt("create ttl bad ttl", lambda: call(a, CreateTTL(REAP + "/t0", b"", OPEN_ACL_UNSAFE, 5, 0)))
    attempt("delete container child", lambda: a.delete(REAP + "/c/x"))
    rec("container reaped", ok=wait_gone(a, REAP + "/c"))
    rec("ttl node expired", ok=wait_gone(a, REAP + "/t"))
    rec("sequential ttl node expired", ok=wait_gone(a, ts[0]) if ts else "not created")
    attempt("reap parent empty", lambda: a.get_children(REAP))

    # Ephemerals vanish when their session closes, seen by another session.
    attempt("other session watches ephemeral", lambda: b.exists(ROOT + "/e", watch=lambda e: None), stat)
    attempt("other session watches children", lambda: sorted(b.get_children(ROOT, watch=lambda e: None)))
    b.interop_events[:] = []
    a.stop()
    a.close()
    events(b, "events after the owner closed")
    attempt("ephemeral after close", lambda: b.exists(ROOT + "/e"))
    attempt("children after close", lambda: sorted(b.get_children(ROOT)))
    attempt("ephemeral sequential after close", lambda: b.get_children(ROOT + "/q"))
    b.stop()
    b.close()


def on_watchdog():
    finish()
    print(json.dumps({"step": "fatal", "error": "session did not finish within %ds" % WATCHDOG_S}))
    sys.stdout.flush()
    os._exit(1)


def main():
    if len(sys.argv) != 2:
        print("usage: kazoo_session.py HOST:PORT", file=sys.stderr)
        return 2
    # kazoo's synchronous calls wait forever on a server that never answers: after
    # WATCHDOG_S, print what we have and a "fatal" line, and exit.
    watchdog = threading.Timer(WATCHDOG_S, on_watchdog)
    watchdog.daemon = True
    watchdog.start()
    try:
        run(sys.argv[1])
    except Exception as e:  # noqa: BLE001 - reported as data, the caller decides
        finish()
        print(json.dumps({"step": "fatal", "error": "%s: %s" % (type(e).__name__, e)}))
        return 1
    finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
