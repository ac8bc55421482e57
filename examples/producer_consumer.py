"""Greenlets passing items through a bounded channel: one producer, two
consumers, and a round-robin scheduler in the main greenlet.

An unmodified greenlet program, so run it on greenlet_cffi through the
drop-in, or profile it:

    python -m greenlet_cffi.run examples/producer_consumer.py [ITEMS]
    python -m greenlet_cffi.profile -o out.json --format chrome \\
        examples/producer_consumer.py
"""
import sys
from collections import deque

from greenlet import getcurrent, greenlet

ready = deque()      # greenlets that can run, in order


def schedule():
    """Run ready greenlets until none is left (the main greenlet's loop)."""
    while ready:
        ready.popleft().switch()


class Channel:
    """A bounded FIFO: put waits while it is full, get while it is empty."""

    def __init__(self, size):
        self.items = deque()
        self.size = size
        self.getters = deque()
        self.putters = deque()

    def _wait(self, queue):
        queue.append(getcurrent())
        getcurrent().parent.switch()     # back to the scheduler

    def _wake(self, queue):
        if queue:
            ready.append(queue.popleft())

    def put(self, item):
        while len(self.items) >= self.size:
            self._wait(self.putters)
        self.items.append(item)
        self._wake(self.getters)

    def get(self):
        while not self.items:
            self._wait(self.getters)
        self._wake(self.putters)
        return self.items.popleft()


def make_item(i):
    # CPU work the producer does for each item.
    return [(i * k) % 97 for k in range(5000)]


def checksum(item):
    return sum(x * x for x in item) % 65521


def render(item):
    return ",".join(str(x) for x in item[:500])


def producer(channel, count):
    for i in range(count):
        channel.put(make_item(i))


def consumer(channel, results):
    while True:
        item = channel.get()
        results.append((checksum(item), len(render(item))))


def main(count):
    channel = Channel(size=4)
    results = []
    consumers = [greenlet(consumer) for _ in range(2)]
    for g in consumers:
        ready.append(g)
        g.switch(channel, results)   # start it; it parks on the empty channel
    ready.clear()
    feeder = greenlet(producer)
    feeder.switch(channel, count)
    schedule()
    # The consumers wait for items that will never come: end them.
    for g in consumers:
        g.throw()
    return results


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    print("consumed %d items" % len(main(n)))
