"""gevent (on PyPy, pure Python on greenlet's API): a StreamServer and 100
concurrent clients over loopback with gevent.monkey, every byte checked;
and Greenlet.dead, which gevent decides from PyPy-greenlet internals."""
import _drop_in

mode = _drop_in.setup()

from gevent import monkey
monkey.patch_all()

import socket       # gevent's now

import gevent
import greenlet
from gevent.server import StreamServer

N_CLIENTS, ROUNDS = 100, 4
active = [0, 0]


def handle(conn, addr):
    active[0] += 1
    active[1] = max(active)
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
    finally:
        active[0] -= 1
        conn.close()


def payload(i, r):
    size = 1000 + (i * 7919 + r * 104729) % 300000
    unit = ("%d.%d;" % (i, r)).encode()
    return (unit * (size // len(unit) + 1))[:size]


def client(i, port):
    _drop_in.on_ours(greenlet.getcurrent())
    assert isinstance(greenlet.getcurrent(), gevent.Greenlet)
    s = socket.create_connection(("127.0.0.1", port))
    total = 0
    for r in range(ROUNDS):
        msg = payload(i, r)
        sender = gevent.spawn(s.sendall, msg)
        got = bytearray()
        while len(got) < len(msg):
            chunk = s.recv(65536)
            assert chunk, "connection closed early"
            got += chunk
        sender.get()
        assert bytes(got) == msg, (i, r)
        total += len(msg)
    s.close()
    return total


def lifecycle():
    # Greenlet.dead through every state (gevent's PyPy branch reads
    # _greenlet__main, _greenlet__started and continulet.is_pending).
    g = gevent.Greenlet(gevent.sleep, 0.01)
    assert not g.dead and not g.started
    g.start()
    assert not g.dead
    gevent.sleep(0)                 # now it runs, and sleeps
    assert not g.dead and bool(greenlet.greenlet.__bool__(g))
    g.join()
    assert g.dead and g.successful()
    k = gevent.spawn(gevent.sleep, 10)
    gevent.sleep(0)
    k.kill()
    assert k.dead and isinstance(k.value, gevent.GreenletExit)
    u = gevent.Greenlet(gevent.sleep, 1)
    u.kill()                        # killed before it ever started
    assert u.dead
    hub = gevent.get_hub()
    assert not hub.dead and isinstance(hub, greenlet.greenlet)
    assert gevent.joinall([gevent.spawn(lambda x: x * 2, i) for i in range(50)])


lifecycle()
server = StreamServer(("127.0.0.1", 0), handle)
server.start()
port = server.address[1]
with gevent.Timeout(120):
    jobs = [gevent.spawn(client, i, port) for i in range(N_CLIENTS)]
    gevent.joinall(jobs, raise_error=True)
totals = [j.value for j in jobs]
assert all(j.dead and j.successful() for j in jobs)
expected = sum(len(payload(i, r)) for i in range(N_CLIENTS) for r in range(ROUNDS))
assert sum(totals) == expected, (sum(totals), expected)
assert active[1] > 1, "the clients never overlapped"
server.stop()
print("OK gevent %s %s: %d clients, %d bytes echoed, %d connections at once"
      % (gevent.__version__, mode, N_CLIENTS, expected, active[1]))
