#!/usr/bin/env python3
"""The shipped configuration's values agree with lagwatch.yml(5)'s defaults.

    config_defaults_check.py KEYS MAN YML

KEYS: the output of `lagwatch check --keys`; MAN: man/lagwatch.yml.5; YML:
deploy/lagwatch.yml. For every key set in YML, active or commented out
("# key: value", the way the file shows a default), whose man page entry
says "Default V." with V one token (a number, size, duration, boolean or
address), the value in YML must be V. Prints TAP lines (unnumbered) and
exits 1 on a mismatch.
"""
import re
import sys


def man_defaults(path, keys):
    text = open(path).read().replace("\\-", "-")
    out = {}
    for part in re.split(r"^\.TP\n", text, flags=re.M):
        m = re.match(r"\.B[IR]? (\S+)\n", part)
        if not m or m.group(1) not in keys:
            continue
        body = " ".join(l for l in part.split("\n")[1:]
                        if not l.startswith(".") or l.startswith(".B"))
        body = re.sub(r"^\.BR? ", "", body)
        d = re.search(r"Default:? \(?([^\s,;()]+?)\)?[.,;:]?(?:\s|$)", body)
        if not d:
            d = re.search(r"\((true|false), the default\)", body)
        if d and not d.group(1).startswith(".") and \
                d.group(1) not in ("the", "all", "or", "none", "no"):
            out[m.group(1)] = d.group(1).rstrip(".")
    return out


def as_key(path, keys):
    """flink.rest_concurrency -> flink[].rest_concurrency and the like."""
    parts = path.split(".")
    for i in range(len(parts)):
        cand = ".".join(p + ("[]" if j < len(parts) - 1 and
                             ".".join(parts[:j + 1]) + "[]" in
                             {k.split("[]")[0] + "[]" for k in keys if "[]" in k}
                             else "") for j, p in enumerate(parts))
        if cand in keys:
            return cand
    return path


def yml_values(path, keys):
    """(dotted key, value, line number) of every key: value line, with
    "# " removed from commented ones; list items become key[]."""
    stack = []  # (indent, key)
    out = []
    for n, raw in enumerate(open(path), 1):
        line = raw.rstrip("\n")
        m = re.match(r"^( *)(# )?(- )?([a-z_]+):(?: (.*))?$", line)
        if not m:
            continue
        ind = len(m.group(1)) + (2 if m.group(3) else 0)
        commented = bool(m.group(2))
        key, val = m.group(4), (m.group(5) or "").strip()
        val = re.sub(r"\s+#.*$", "", val)
        while stack and stack[-1][0] >= ind:
            stack.pop()
        parts = []
        for _, k in stack:
            parts.append(k)
        path_ = as_key(".".join(parts + [key]), keys)
        if path_ not in keys and commented:
            continue
        if not val:
            # a section (or a list: the next "- " items are key[])
            stack.append((ind, key))
            continue
        out.append((path_, val, n))
    return out


def main():
    keys = set(open(sys.argv[1]).read().split())
    # list sections: flink[] etc. are written as "flink:" then "- name"
    defaults = man_defaults(sys.argv[2], keys)
    bad = 0
    checked = 0
    for key, val, n in yml_values(sys.argv[3], keys):
        k = key
        if k not in defaults:
            continue
        checked += 1
        want = defaults[k]
        got = val.strip("'\"")
        if got != want:
            bad += 1
            print("not ok - %s:%d: %s is %s, lagwatch.yml(5) says the default "
                  "is %s" % (sys.argv[3], n, k, got, want))
    print("%s - %d values of the shipped configuration match the man page's "
          "defaults" % ("ok" if checked and not bad else "not ok", checked))
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
