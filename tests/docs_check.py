#!/usr/bin/env python3
"""Checks that the docs say only what the tree holds.

  tests/docs_check.py [ROOT]

(a) every test the docs cite exists: in README.md, docs/**/*.md,
    tests/README.md and topologies/README.md, a code span `Suite.Name` whose Suite is a GoogleTest
    suite of tests/**/*.cpp names a TEST/TEST_F/TEST_P(Suite, Name) there
    (`Suite.*` and `Suite.prefix_*` match one or more; a parameterised
    test's `Instance/Suite.Name/param` is its TEST_P(Suite, Name)); a span
    that reads like a test of an unknown suite is an error too, and so is
    an abbreviated `.name` (write the suite each time). A span
    `tests/...` names a file (or glob) that exists, and a bare `x.sh` one
    somewhere in the tree.
(b) tests/README.md names every test binary (add_executable under
    tests/unit, tests/integration, tests/fuzz) and every tests/e2e/*.sh;
    every tests/e2e/*.sh is registered in tests/e2e/CMakeLists.txt or used
    by another script; topologies/README.md names every file in
    topologies/.
(c) every relative Markdown link in those files points to a file that
    exists, and a `#anchor` into a Markdown file to one of its headings.

Exits 1 with one line per problem (FILE:LINE: what), 0 when all is well.
"""

import glob
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), ".."))
problems = []


def problem(path, line, what):
    where = os.path.relpath(path, ROOT) + (f":{line}" if line else "")
    problems.append(f"{where}: {what}")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(*parts):
    return os.path.join(ROOT, *parts)


# -- the tests that exist ----------------------------------------------------

TEST_MACRO = re.compile(
    r"^\s*(?:TEST|TEST_F|TEST_P|TYPED_TEST|TYPED_TEST_P)\s*\(\s*"
    r"([A-Za-z_][A-Za-z0-9_]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)",
    re.M)
tests = {}  # suite -> set of names
for cpp in glob.glob(rel("tests", "**", "*.cpp"), recursive=True):
    for suite, name in TEST_MACRO.findall(read(cpp)):
        tests.setdefault(suite, set()).add(name)
if not tests:
    print("docs_check: no GoogleTest tests found under tests/", file=sys.stderr)
    sys.exit(1)

# -- the documents -----------------------------------------------------------

docs = [rel("README.md")]
docs += sorted(glob.glob(rel("docs", "**", "*.md"), recursive=True))
docs += [rel("tests", "README.md"), rel("topologies", "README.md")]

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)([^`]+?)\1")
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CITE = re.compile(
    r"^(?:[A-Za-z0-9_]+/)?([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_]*\*?)"
    r"(?:/[A-Za-z0-9_]+)?$")


def prose_lines(path):
    """(line number, text) of the lines outside fenced code blocks."""
    fenced = False
    for n, line in enumerate(read(path).splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield n, line


def paragraphs(path):
    """(first line number, text, line starts) of each run of non-blank
    prose lines, joined by spaces: a code span or a link may cross lines."""
    block, first = [], 0
    for n, line in list(prose_lines(path)) + [(0, "")]:
        if line.strip() and (not block or n == first + len(block)):
            if not block:
                first = n
            block.append(line)
            continue
        if block:
            starts, pos = [], 0
            for b in block:
                starts.append(pos)
                pos += len(b) + 1
            yield first, " ".join(block), starts
        block, first = ([line], n) if line.strip() else ([], 0)


def located(path, regex, group):
    """(line number, match group) of each match of regex in path's prose."""
    for first, text, starts in paragraphs(path):
        for m in regex.finditer(text):
            line = first + sum(1 for s in starts if s <= m.start()) - 1
            yield line, m.group(group)


def check_test(path, n, suite, name):
    if suite in tests:
        if name.endswith("*"):
            prefix = name[:-1]
            if not any(t.startswith(prefix) for t in tests[suite]):
                problem(path, n, f"no test matches `{suite}.{name}`")
        elif name not in tests[suite]:
            problem(path, n, f"no test `{suite}.{name}` "
                    f"(no TEST*({suite}, {name}) under tests/)")
    elif name.count("_") >= 3 or (
            name.endswith("*") and not glob.glob(rel("**", suite + ".*"),
                                                 recursive=True)):
        # Reads like a test (`suite.a_long_sentence`, `suite.*` where no
        # file `suite.*` is meant), but of no suite.
        problem(path, n, f"no test suite `{suite}` (cited as `{suite}.{name}`)")


def check_path(path, n, span):
    for token in span.split():
        token = token.rstrip(".,;:)")
        if token.startswith("tests/"):
            token = token.split(":")[0]
            # Installed by flumen.sh (npm), not in the tree.
            if "node_modules" in token:
                continue
            if not glob.glob(rel(token)):
                problem(path, n, f"`{token}` does not exist")
        elif re.fullmatch(r"[A-Za-z0-9_.-]+\.sh", token):
            if not glob.glob(rel("**", token), recursive=True):
                problem(path, n, f"`{token}`: no such script in the tree")


for path in docs:
    for n, span in located(path, CODE_SPAN, 2):
        span = span.strip()
        m = CITE.match(span)
        if re.fullmatch(r"\.[a-z][a-z0-9]*_[a-z0-9_]*\*?", span):
            problem(path, n, f"`{span}`: cite a test whole, as `Suite.Name`")
        elif m and not os.path.exists(rel(span)):
            check_test(path, n, m.group(1), m.group(2))
        check_path(path, n, span)

# -- (c) links ---------------------------------------------------------------


def slug(heading):
    """GitHub's anchor for a heading."""
    s = re.sub(r"\]\([^)]*\)", "", heading.strip().lower())  # link targets
    s = re.sub(r"[^\w\- ]", "", s)  # punctuation and backticks; keeps _ and -
    return s.replace(" ", "-")


anchors_cache = {}


def anchors(md):
    if md not in anchors_cache:
        seen = {}
        out = set()
        for _, line in prose_lines(md):
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            s = slug(m.group(1))
            if s in seen:
                seen[s] += 1
                s = f"{s}-{seen[s]}"
            else:
                seen[s] = 0
            out.add(s)
        anchors_cache[md] = out
    return anchors_cache[md]


for path in docs:
    for n, target in located(path, LINK, 1):
        if re.match(r"^[a-z]+:", target):
            continue  # http:, https:, mailto:
        file, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) \
            if file else path
        if not os.path.exists(dest):
            problem(path, n, f"link to `{target}`: "
                    f"{os.path.relpath(dest, ROOT)} does not exist")
        elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
            problem(path, n, f"link to `{target}`: no heading "
                    f"#{anchor} in {os.path.relpath(dest, ROOT)}")

# -- (b) the lists of tests and topologies -----------------------------------


def spans(path):
    return {s.strip() for _, s in located(path, CODE_SPAN, 2)}


def lists_file(path, what, names):
    if not os.path.exists(path):
        problem(path, 0, "missing")
        return
    have = spans(path)
    for name in sorted(names):
        if name not in have:
            problem(path, 0, f"does not list {what} `{name}`")


binaries = set()
for sub in ["unit", "integration", "fuzz"]:
    cm = rel("tests", sub, "CMakeLists.txt")
    if os.path.exists(cm):
        binaries |= set(re.findall(r"add_executable\(\s*([A-Za-z0-9_]+)", read(cm)))
e2e = {os.path.basename(p) for p in glob.glob(rel("tests", "e2e", "*.sh"))}
lists_file(rel("tests", "README.md"), "the test binary", binaries)
lists_file(rel("tests", "README.md"), "the e2e script", e2e)

registered = set(re.findall(r"^\s+([a-z0-9_]+)\s*$",
                            read(rel("tests", "e2e", "CMakeLists.txt")), re.M))
for script in sorted(e2e):
    stem = script[:-3]
    if stem in registered:
        continue
    used = any(script in read(p) for p in glob.glob(rel("tests", "e2e", "*.sh"))
               if os.path.basename(p) != script)
    if not used:
        problem(rel("tests", "e2e", "CMakeLists.txt"), 0,
                f"tests/e2e/{script} is neither in E2E_TESTS nor used by another script")

shipped = {os.path.basename(p) for p in glob.glob(rel("topologies", "*"))
           if os.path.basename(p) != "README.md"}
lists_file(rel("topologies", "README.md"), "the file", shipped)

for p in problems:
    print(p)
if problems:
    print(f"docs_check: {len(problems)} problem(s)", file=sys.stderr)
    sys.exit(1)
print(f"docs_check: {len(docs)} files, "
      f"{sum(len(v) for v in tests.values())} tests known: all citations, "
      f"lists and links hold")
