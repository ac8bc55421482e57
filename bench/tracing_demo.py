"""Producer/consumer greenlets, for the profiler's table (README):

    python -m greenlet_cffi.profile bench/tracing_demo.py 50
"""
import sys
import time

from greenlet import greenlet


def produce(n):
    for i in range(n):
        time.sleep(0.002)           # waiting for input: wall time, little CPU
        consumer.switch(i)
    consumer.switch(None)


def consume(item):
    total = 0
    while item is not None:
        for k in range(20000):      # work on it: CPU time
            total += k * item
        item = producer.switch()
    return total


producer = greenlet(produce)
consumer = greenlet(consume)
print("total", producer.switch(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
del producer        # left suspended in its last switch: killed
