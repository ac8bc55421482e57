"""Groups the divergences a long differential run collected (one JSON line
each, see test_differential.py) by their first differing events, and prints
the shortest program of each group.  Exit status 1 if there were any."""
import json
import re
import sys


def signature(ev):
    # Greenlet names and values vary between programs of the same bug.
    return re.sub(r'"g\d+"', '"g"', json.dumps(ev))


def main(path):
    groups = {}
    try:
        with open(path) as f:
            rows = [json.loads(line) for line in f]
    except FileNotFoundError:
        rows = []
    for row in rows:
        i = row["at"]
        ours = row["ours"].get("log", [row["ours"]])
        ref = row["ref"].get("log", [row["ref"]])
        key = (signature(ours[i] if i < len(ours) else None),
               signature(ref[i] if i < len(ref) else None))
        if key not in groups or len(row["ops"]) < len(groups[key][0]["ops"]):
            groups[key] = (row, groups.get(key, (None, 0))[1])
        groups[key] = (groups[key][0], groups[key][1] + 1)
    print("%d divergent programs in %d groups" % (len(rows), len(groups)))
    for (ours, ref), (row, count) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print("\n%d programs: ours %s / greenlet %s" % (count, ours, ref))
        print("  shortest: %s" % json.dumps(row["ops"]))
    return 1 if rows else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
