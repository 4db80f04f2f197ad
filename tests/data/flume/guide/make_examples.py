#!/usr/bin/env python3
"""Writes every component section's example of Flume's User Guide as a
complete agent file (NN_section.properties), for tests/e2e/flume_import.sh.

  make_examples.py FlumeUserGuide.rst

The guide (flume-ng-doc/sphinx/FlumeUserGuide.rst in apache/flume, 1.10.1,
before commit a0da8e3e removed it) shows each source, sink, channel,
selector, processor and interceptor as a snippet of agent a1. Each snippet
is kept as the guide has it, and completed below a marked line with what an
agent needs and the snippet leaves out: a memory channel for each channel
it names, a seq source and a logger sink when it has none, a `channels` /
`channel` for a source or sink without one. The files are committed; this
only says how they were made."""

import re
import sys

lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
start = lines.index("Flume Sources")
end = lines.index("Flume Properties")
section = None
blocks = []
for n in range(start, end):
    line = lines[n]
    if n + 1 < end and re.match(r"^[~'^-]{4,}$", lines[n + 1]) and line.strip():
        section = line.strip()
    if line.strip() in (".. code-block:: properties", ".. code-block:: none"):
        body = []
        m = n + 1
        while m < end and (lines[m].startswith("  ") or not lines[m].strip()):
            body.append(lines[m].strip())
            m += 1
        body = [b for b in body if b and not b.startswith("#")]
        props = [b for b in body if re.match(r"^a1\.\S+\s*[=:]", b)]
        if props and len(props) == len(body):
            blocks.append((section, body))


def value(body, key):
    for b in body:
        k, _, v = re.split(r"\s*([=:])\s*", b, 1) + ["", ""][: 0]
        if k == key:
            return v.strip()
    return None


def keys(body):
    out = {}
    for b in body:
        k, v = re.split(r"\s*[=:]\s*", b, 1)
        out[k.strip()] = v.strip()
    return out


# A snippet that configures a component without its type continues the
# section's first example: the type is the section's.
SECTION_TYPE = {
    "Kafka Source": "org.apache.flume.source.kafka.KafkaSource",
    "Kafka Sink": "org.apache.flume.sink.kafka.KafkaSink",
    "Kafka Channel": "org.apache.flume.channel.kafka.KafkaChannel",
    "File Channel": "file",
}

count = {}
for section, body in blocks:
    slug = re.sub(r"[^a-z0-9]+", "_", section.lower()).strip("_")
    count[slug] = count.get(slug, 0) + 1
    name = f"{slug}_{count[slug]}.properties"
    kv = keys(body)
    extra = []
    sources = kv.get("a1.sources", "").split()
    sinks = kv.get("a1.sinks", "").split()
    channels = kv.get("a1.channels", "").split()
    # A list the snippet gives stays as it is (what it leaves out of it,
    # Flume ignores); one it lacks lists what it configures.
    given = {k for k in ("sources", "sinks", "channels") if f"a1.{k}" in kv}
    for k, v in kv.items():
        if re.match(r"^a1\.sinkgroups\.[^.]+\.sinks$", k) and "sinks" not in given:
            sinks += [x for x in v.split() if x not in sinks]
    named = set(channels)
    for k, v in kv.items():
        if re.match(r"^a1\.sources\.[^.]+\.channels$", k) or \
           re.match(r"^a1\.sources\.[^.]+\.selector\.(mapping\.|default|optional)", k):
            named.update(v.split())
        if re.match(r"^a1\.sinks\.[^.]+\.channel$", k):
            named.add(v)
        m = re.match(r"^a1\.(sources|sinks|channels)\.([^.]+)\.", k)
        if m and m.group(1) not in given:
            lst = {"sources": sources, "sinks": sinks, "channels": channels}[m.group(1)]
            if m.group(2) not in lst:
                lst.append(m.group(2))
    named.update(channels)
    if not named:
        named.add("c1")
    for c in sorted(named):
        if c not in channels:
            channels.append(c)
        if f"a1.channels.{c}.type" not in kv and \
           any(k.startswith(f"a1.channels.{c}.") for k in kv):
            extra.append(f"a1.channels.{c}.type = {SECTION_TYPE.get(section, 'memory')}")
        elif f"a1.channels.{c}.type" not in kv:
            extra.append(f"a1.channels.{c}.type = memory")
    if not sources:
        sources.append("gen")
        extra.append("a1.sources.gen.type = seq")
        extra.append("a1.sources.gen.totalEvents = 10")
    for s in sources:
        if f"a1.sources.{s}.type" not in kv and s != "gen":
            t = SECTION_TYPE.get(section, "seq") if "Source" in section else "seq"
            extra.append(f"a1.sources.{s}.type = {t}")
        if f"a1.sources.{s}.channels" not in kv:
            # A selector's snippet names the source's channels in its
            # mapping: all of the agent's.
            has_selector = any(k.startswith(f"a1.sources.{s}.selector.") for k in kv)
            extra.append(f"a1.sources.{s}.channels = "
                         f"{' '.join(channels) if has_selector else channels[0]}")
    if not sinks:
        sinks.append("out")
        extra.append("a1.sinks.out.type = logger")
    for s in sinks:
        if f"a1.sinks.{s}.type" not in kv and s != "out":
            t = SECTION_TYPE.get(section, "logger") if "Sink" in section else "logger"
            extra.append(f"a1.sinks.{s}.type = {t}")
        if f"a1.sinks.{s}.channel" not in kv:
            extra.append(f"a1.sinks.{s}.channel = {channels[0]}")
    # A channel no sink reads gets a logger sink (Flume would fill it up).
    read = {v for k, v in kv.items() if re.match(r"^a1\.sinks\.[^.]+\.channel$", k)}
    read |= {e.split(" = ")[1] for e in extra if re.match(r"^a1\.sinks\.[^.]+\.channel = ", e)}
    if "sinks" not in given:
        for c in channels:
            if c not in read:
                sinks.append(f"out_{c}")
                extra.append(f"a1.sinks.out_{c}.type = logger")
                extra.append(f"a1.sinks.out_{c}.channel = {c}")
    for lst, key in ((sources, "sources"), (sinks, "sinks"), (channels, "channels")):
        if key not in given:
            extra.append(f"a1.{key} = {' '.join(lst)}")
    with open(name, "w", encoding="utf-8") as f:
        f.write(f"# Flume User Guide 1.10.1, \"{section}\": its example as the guide has it\n")
        f.write("\n".join(body) + "\n")
        if extra:
            f.write("# -- completed (make_examples.py): what the snippet leaves out\n")
            f.write("\n".join(extra) + "\n")
    print(name)
