"""eventlet: a green TCP echo server and 100 concurrent green clients over
loopback, with eventlet.monkey_patch(); every byte is checked."""
import _drop_in

mode = _drop_in.setup()

import eventlet
eventlet.monkey_patch()

import socket       # green now

import greenlet

N_CLIENTS, ROUNDS = 100, 4
active = [0, 0]     # connections open at the server now, most at once


def handle(conn):
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


def serve(listener):
    pool = eventlet.GreenPool()
    while True:
        conn, _ = listener.accept()
        pool.spawn_n(handle, conn)


def payload(i, r):
    # Distinct per client and round, and bigger than a socket buffer for
    # some, so that clients and handlers must interleave.
    size = 1000 + (i * 7919 + r * 104729) % 300000
    unit = ("%d.%d;" % (i, r)).encode()
    return (unit * (size // len(unit) + 1))[:size]


def client(i, port):
    _drop_in.on_ours(greenlet.getcurrent())
    s = socket.create_connection(("127.0.0.1", port))
    total = 0
    for r in range(ROUNDS):
        msg = payload(i, r)
        # Send in a green thread of its own: the echo comes back while we
        # are still sending.
        sender = eventlet.spawn(s.sendall, msg)
        got = bytearray()
        while len(got) < len(msg):
            chunk = s.recv(65536)
            assert chunk, "connection closed early"
            got += chunk
        sender.wait()
        assert bytes(got) == msg, (i, r)
        total += len(msg)
    s.close()
    return total


listener = eventlet.listen(("127.0.0.1", 0))
port = listener.getsockname()[1]
server = eventlet.spawn(serve, listener)
with eventlet.Timeout(120):
    pool = eventlet.GreenPool(N_CLIENTS)
    totals = list(pool.imap(lambda i: client(i, port), range(N_CLIENTS)))
expected = sum(len(payload(i, r)) for i in range(N_CLIENTS) for r in range(ROUNDS))
assert sum(totals) == expected, (sum(totals), expected)
assert active[1] > 1, "the clients never overlapped"
server.kill()
listener.close()
print("OK eventlet %s %s: %d clients, %d bytes echoed, %d connections at once"
      % (eventlet.__version__, mode, N_CLIENTS, expected, active[1]))
