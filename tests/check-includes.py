#!/usr/bin/env python3
"""check-includes: fails when the module include graph has a cycle other than the protocol trio.

A module is src/NAME.c with include/blockedge/NAME.h (a header without a .c is a module of its
own). Module A depends on module B when A's .c or .h includes "blockedge/B.h". The only cycle
allowed is among conn, http1 and http2: a connection hands its bytes to the protocol it sniffed,
and the protocol ends the connection through conn's one close path. Every other cycle is printed
with one include line per edge, and the exit status is 1.

usage: check-includes.py [SOURCE_DIR]
"""
import os
import re
import sys

ALLOWED = {"conn", "http1", "http2"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"blockedge/([a-z0-9_]+)\.h"', re.M)


def modules(root):
    src = os.path.join(root, "src")
    inc = os.path.join(root, "include", "blockedge")
    names = {f[:-2] for f in os.listdir(src) if f.endswith(".c")}
    names |= {f[:-2] for f in os.listdir(inc) if f.endswith(".h")}
    graph, where = {}, {}
    for m in names:
        graph[m] = set()
        for path in (os.path.join(src, m + ".c"), os.path.join(inc, m + ".h")):
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8") as f:
                for dep in INCLUDE.findall(f.read()):
                    if dep != m and dep in names:
                        graph[m].add(dep)
                        where.setdefault((m, dep), os.path.relpath(path, root))
    return graph, where


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    graph, where = modules(root)
    bad = [c for c in cycles(graph) if not set(c) <= ALLOWED]
    for comp in bad:
        print("check-includes: cycle among " + " ".join(comp))
        for a in comp:
            for b in sorted(graph[a] & set(comp)):
                print("  %s -> %s (%s)" % (a, b, where[(a, b)]))
    print("check-includes: %d modules, %d include edges, %d forbidden cycles"
          % (len(graph), sum(len(v) for v in graph.values()), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
