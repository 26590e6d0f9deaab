#!/usr/bin/env python3
"""prometheus_check.py FILE: a strict check of Prometheus' text exposition format (0.0.4).

Every line is a HELP or TYPE comment or a sample; each metric family has one TYPE, given before
its samples, which stay together; names and label names are valid, label values properly escaped,
values floats; a histogram's buckets are cumulative, end with le="+Inf" equal to its _count, and
it has a _sum. Prints the number of families and samples; exits 1 naming the first bad line.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(r"^(" + NAME + r")(\{(?:" + LABEL + r"(?:," + LABEL + r")*)?\})? (\S+)( -?[0-9]+)?$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) in ("histogram", "summary"):
            return name[: -len(suffix)]
    return name


def labels_of(text):
    return dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', text or ""))


def main(path):
    types, done, current = {}, set(), None
    buckets, counts, sums = {}, {}, {}
    samples = 0
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.endswith("\n"):
        sys.exit(f"{path}: the last line has no newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        def bad(why):
            sys.exit(f"{path}:{n}: {why}: {line!r}")
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (" + NAME + r") (.*)$", line)
            if not m:
                bad("a comment that is neither HELP nor TYPE")
            kind, name, rest = m.groups()
            if kind == "TYPE":
                if rest not in TYPES:
                    bad("unknown type")
                if name in types:
                    bad("a second TYPE for the family")
                types[name] = rest
            continue
        if not line:
            bad("an empty line")
        m = SAMPLE.match(line)
        if not m:
            bad("not a sample line")
        name, labels, value = m.group(1), m.group(2), m.group(3)
        try:
            number = float(value)
        except ValueError:
            bad("the value is not a float")
        family = family_of(name, types)
        if family not in types:
            bad("a sample before its family's TYPE")
        if family != current:
            if family in done:
                bad("the family's samples are not together")
            if current:
                done.add(current)
            current = family
        if types[family] == "counter" and (number < 0 or not name.endswith("_total")):
            bad("a counter must be >= 0 and named *_total")
        lab = labels_of(labels)
        key = (family, tuple(sorted((k, v) for k, v in lab.items() if k != "le")))
        if name.endswith("_bucket") and types[family] == "histogram":
            if "le" not in lab:
                bad("a bucket without le")
            le = math.inf if lab["le"] == "+Inf" else float(lab["le"])
            prev = buckets.setdefault(key, [])
            if prev and (le <= prev[-1][0] or number < prev[-1][1]):
                bad("buckets not ascending or not cumulative")
            prev.append((le, number))
        elif name.endswith("_count") and types[family] == "histogram":
            counts[key] = number
        elif name.endswith("_sum") and types[family] == "histogram":
            sums[key] = number
        samples += 1
    for key, bs in buckets.items():
        if bs[-1][0] != math.inf:
            sys.exit(f"{path}: histogram {key[0]} has no le=\"+Inf\" bucket")
        if counts.get(key) != bs[-1][1]:
            sys.exit(f"{path}: histogram {key[0]}: _count differs from the +Inf bucket")
        if key not in sums:
            sys.exit(f"{path}: histogram {key[0]} has no _sum")
    if not samples:
        sys.exit(f"{path}: no samples")
    print(f"{path}: {len(types)} families, {samples} samples: valid")


if __name__ == "__main__":
    main(sys.argv[1])
