#!/usr/bin/env python3
"""The house rules for source files, checked (test.sh runs this first):

- no import cycles between the files of a Rust crate (`use crate::…`,
  `crate::…` paths and `super::…`, re-exports followed to the file that
  defines the name), so every crate has leaves that can be read first;
- no import cycles between the page's ES modules;
- no source file in shared/src, functions/src, infra/src or web/ over 600 lines;
- every file starts with a comment saying what it is for.

Usage: infra/scripts/check-modules.py [--graph CRATE_SRC]
"""

import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
CRATES = ["shared/src", "functions/src", "infra/src", "bench/src"]
MAX_LINES = 600
SIZE_CHECKED = ["shared/src", "functions/src", "infra/src", "web"]


def rust_modules(src):
    """Maps module paths (tuples) to files for one crate's src folder."""
    mods = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[0] == "bin":
                continue
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            mods[tuple(parts)] = os.path.join(dirpath, f)
    return mods


def strip_tests(text):
    """Drops `#[cfg(test)] mod tests { … }` (tests may reach anywhere)."""
    m = re.search(r"#\[cfg\(test\)\]\s*mod \w+ \{", text)
    return text[: m.start()] if m else text


def expand_use(body):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    body = re.sub(r"\s+", "", body)
    out = []

    def walk(prefix, s):
        depth, start, items = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(s[start:i])
                start = i + 1
        items.append(s[start:])
        for it in items:
            if not it:
                continue
            if "{" in it:
                head, rest = it.split("{", 1)
                walk(prefix + head, rest[: rest.rindex("}")])
            else:
                out.append(prefix + it.split(" as ")[0])

    walk("", body)
    return out


def reexports(text):
    """Names a module re-exports: name -> relative path it comes from."""
    names = {}
    for m in re.finditer(r"pub(?:\([a-z]+\))?\s+use\s+([^;]+);", text):
        for path in expand_use(m.group(1)):
            names[path.split("::")[-1]] = path
    return names


def rust_graph(src):
    mods = rust_modules(src)
    texts = {k: strip_tests(open(v).read()) for k, v in mods.items()}
    exported = {k: reexports(t) for k, t in texts.items()}

    def resolve(parts, depth=0):
        """The file module a path's longest known prefix names, following
        re-exports of the next segment."""
        for n in range(len(parts), 0, -1):
            mod = tuple(parts[:n])
            if mod in mods:
                nxt = parts[n] if n < len(parts) else None
                via = exported.get(mod, {}).get(nxt) if nxt else None
                if via and depth < 8:
                    target = absolute(mod, via.split("::"))
                    if target:
                        found = resolve(target, depth + 1)
                        if found:
                            return found
                return mod
        return None

    def absolute(here, path):
        if not path:
            return None
        if path[0] == "crate":
            return path[1:]
        if path[0] == "self":
            return list(here) + path[1:]
        base = list(here)
        while path and path[0] == "super":
            base = base[:-1]
            path = path[1:]
        if path is not None and len(path) and (tuple(base + [path[0]]) in mods):
            return base + path
        if base != list(here):
            return base + path
        # A child module named relative to here (`mod x; use x::Y`).
        if tuple(list(here) + [path[0]]) in mods:
            return list(here) + path
        return None

    edges = {k: set() for k in mods}
    for mod, text in texts.items():
        paths = []
        for m in re.finditer(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?use\s+([^;]+);", text, re.M):
            paths += expand_use(m.group(1))
        paths += re.findall(r"\b((?:crate|super)(?:::\w+)+)", text)
        for p in paths:
            parts = p.split("::")
            if parts[0] not in ("crate", "super", "self") and tuple(list(mod) + [parts[0]]) not in mods:
                continue
            target = absolute(mod, parts)
            if target is None:
                continue
            dest = resolve(target)
            if dest is not None and dest != mod and dest != mod[: len(dest)]:
                edges[mod].add(dest)
            # A child using its parent's own items is fine; the parent
            # declaring its children is not an import.
    return mods, edges


def js_graph(web):
    files = {}
    for dirpath, _, fs in os.walk(web):
        for f in fs:
            if f.endswith(".js"):
                p = os.path.join(dirpath, f)
                files[os.path.relpath(p, web)] = p
    edges = {k: set() for k in files}
    for rel, path in files.items():
        text = open(path).read()
        for m in re.finditer(r"""(?:import|export)[^'"]*?from\s*['"](\.[^'"]+)['"]""", text):
            dest = os.path.normpath(os.path.join(os.path.dirname(rel), m.group(1)))
            if dest in files:
                edges[rel].add(dest)
    return files, edges


def cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            strong(v)
    return out


def name(mod):
    return "::".join(mod) or "lib"


def main():
    failures = []
    for crate in CRATES:
        src = os.path.join(ROOT, crate)
        mods, edges = rust_graph(src)
        if "--graph" in sys.argv and crate in sys.argv:
            for k in sorted(edges):
                print(name(k), "->", ", ".join(sorted(name(d) for d in edges[k])))
        for comp in cycles(edges):
            failures.append(f"{crate}: import cycle: {' -> '.join(sorted(name(c) for c in comp))}")
    files, edges = js_graph(os.path.join(ROOT, "web"))
    for comp in cycles(edges):
        failures.append(f"web: import cycle: {' -> '.join(sorted(comp))}")

    for top in SIZE_CHECKED:
        for dirpath, _, fs in os.walk(os.path.join(ROOT, top)):
            for f in fs:
                if not f.endswith((".rs", ".js", ".css", ".html")):
                    continue
                p = os.path.join(dirpath, f)
                rel = os.path.relpath(p, ROOT)
                lines = open(p).read().split("\n")
                if len(lines) - 1 > MAX_LINES:
                    failures.append(f"{rel}: {len(lines) - 1} lines (at most {MAX_LINES})")
                first = next((l for l in lines if l.strip()), "")
                if f.endswith(".rs") and not first.startswith("//!"):
                    failures.append(f"{rel}: no `//!` comment saying what it is for")
                if f.endswith(".js") and not first.startswith(("//", "/*")):
                    failures.append(f"{rel}: no leading comment saying what it is for")
    for f in failures:
        print(f)
    if failures:
        sys.exit(1)
    print("modules: no import cycles, no file over 600 lines, every file says what it is for")


if __name__ == "__main__":
    main()
