// `flumen import`: Flume's agent structure (FlumeConfiguration: the
// `sources`/`channels`/`sinks`/`sinkgroups` lists, components, selectors,
// interceptors, sink processors) into a topology; each component's options
// through its type's converter (types_*.cpp).

#include "runtime/flume/import.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "runtime/flume/properties.hpp"
#include "runtime/flume/types.hpp"

namespace flumen::flume {
namespace {

/// A named component's properties, keys relative to it.
struct component {
  std::string name;
  std::vector<prop> props;
  bool listed = false;
};

/// One kind's components in the order of their first property.
struct kind_props {
  const prop* list = nullptr;
  std::vector<component> items;
  component& get(const std::string& name) {
    for (auto& c : items)
      if (c.name == name) return c;
    items.push_back({name, {}, false});
    return items.back();
  }
  component* find(const std::string& name) {
    for (auto& c : items)
      if (c.name == name) return &c;
    return nullptr;
  }
};

struct agent_input {
  std::string name;
  std::vector<prop> props; // keys relative to the agent
};

bool has_control(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  return false;
}

const char* const kinds[] = {"configfilters", "sources", "channels", "sinks",
                             "sinkgroups"};

class agent_converter {
public:
  agent_converter(agent_input& in, import_state& st, ynode& out)
      : in_(in), st_(st), out_(out) {}

  void run();

private:
  void note(const prop& p, const std::string& why) {
    st_.unconvertible.push_back({p.full, p.line, why});
    out_.notes.push_back("not converted: " + p.full + " (line " +
                         std::to_string(p.line) + "): " + why);
  }
  void warn(const prop& p, const std::string& why) {
    st_.warnings.push_back({p.full, p.line, why});
  }
  std::string full(const std::string& rel) { return in_.name + "." + rel; }

  void split();
  void config_filters();
  void channels();
  void sources();
  void sinks();
  void sink_groups();
  /// Leaves out the last group, keeping its comments at the agent.
  void drop_group(ynode& groups);
  /// The listed, configured components of a kind, warning about the rest.
  std::vector<component*> active(kind_props& k, const char* kind);
  /// The rule of `c`'s type, its `type` written into `out`; nullptr (and
  /// a note) when it has none or flumen has no such type.
  const type_rule* type_of(component& c, role r, const char* kind, ynode& out);
  /// `names` (space-separated) kept when a channel we write (and, when
  /// `among` is given, one of those: a selector's channels are the
  /// source's).
  ynode channel_list(const prop& p, converter& cv,
                     const ynode* among = nullptr);
  /// False (and a warning) when `node` lacks an option Flume requires.
  bool has_required(const type_rule& rule, component& c, const ynode& node,
                    const char* kind);
  /// Channels no source writes or no sink reads.
  void unused_channels();
  void selector(component& c, converter& cv, ynode& out);
  void interceptors(component& c, converter& cv, ynode& out);

  agent_input& in_;
  import_state& st_;
  ynode& out_;
  std::map<std::string, kind_props> by_kind_;
  std::vector<std::string> channels_out_;
  std::map<std::string, std::string> sink_channel_;
};

void agent_converter::split() {
  for (auto& p : in_.props) {
    bool placed = false;
    for (auto* kind : kinds) {
      std::string k = kind;
      if (p.key == k) {
        if (by_kind_[k].list) warn(p, "given twice; Flume refuses the agent");
        by_kind_[k].list = &p;
        placed = true;
        break;
      }
      // FlumeConfiguration.parseConfigKey: <kind>.<name>.<key>.
      if (p.key.size() > k.size() + 1 && p.key.compare(0, k.size(), k) == 0 &&
          p.key[k.size()] == '.') {
        auto dot = p.key.find('.', k.size() + 2);
        if (dot == std::string::npos || dot + 1 == p.key.size()) break;
        auto name = p.key.substr(k.size() + 1, dot - k.size() - 1);
        auto rest = p.key.substr(dot + 1);
        if (has_control(name)) {
          note(p, "a name with control characters (flumen refuses them: "
                  "they would split its log lines)");
          placed = true;
          break;
        }
        by_kind_[k].get(name).props.push_back(
            {rest, p.full, p.value, p.line, false});
        placed = true;
        break;
      }
    }
    if (!placed)
      note(p, "not a key of a Flume agent (sources, channels, sinks, "
              "sinkgroups, configfilters and their components'); Flume "
              "ignores it");
  }
}

std::vector<component*> agent_converter::active(kind_props& k,
                                                const char* kind) {
  std::vector<component*> out;
  if (k.list)
    for (auto& name : split_ws(trim(k.list->value))) {
      auto* c = k.find(name);
      if (!c) {
        warn(*k.list, std::string(kind) + " " + name +
                          " is listed but never configured; Flume drops it");
        continue;
      }
      if (c->listed) continue;
      c->listed = true;
      out.push_back(c);
    }
  for (auto& c : k.items)
    if (!c.listed && !c.props.empty())
      warn(c.props.front(), std::string(kind) + " " + c.name +
                                " is configured but not listed in " + in_.name +
                                "." + kind +
                                "; Flume ignores it, and so does this");
  return out;
}

const type_rule* agent_converter::type_of(component& c, role r,
                                          const char* kind, ynode& out) {
  const prop* type = nullptr;
  for (auto& p : c.props)
    if (p.key == "type") {
      p.used = true;
      type = &p;
    }
  if (!type) {
    warn(c.props.front(),
         std::string(kind) + " " + c.name + " has no type; Flume drops it");
    return nullptr;
  }
  auto t = std::string(trim(type->value));
  auto* rule = find_type(r, t);
  if (!rule) {
    note(*type, "'" + t +
                    "' is a class flumen does not have (a custom "
                    "component)");
    return nullptr;
  }
  if (rule->ours.empty()) {
    note(*type, std::string(rule->why));
    return nullptr;
  }
  out.set("type", ynode::str(rule->ours));
  return rule;
}

void agent_converter::config_filters() {
  auto& k = by_kind_["configfilters"];
  for (auto* c : active(k, "configfilters")) {
    for (auto& p : c->props) {
      auto v = trim(p.value);
      if (p.key == "type" &&
          (v == "env" ||
           v ==
               "org.apache.flume.configfilter.EnvironmentVariableConfigFilter"))
        st_.env_filters.insert(c->name);
      else if (p.key == "type")
        note(p, "a config filter that is not of type env (flumen resolves "
                "environment variables only, ${NAME} in its files)");
    }
  }
}

void agent_converter::channels() {
  auto& out = out_.child("channels");
  for (auto* c : active(by_kind_["channels"], "channel")) {
    ynode node;
    auto* rule = type_of(*c, role::channel, "channel", node);
    if (!rule) continue;
    converter cv(c->props, node, st_);
    rule->convert(cv);
    cv.finish();
    if (!has_required(*rule, *c, node, "channel")) continue;
    out.set(c->name, std::move(node));
    channels_out_.push_back(c->name);
  }
}

bool agent_converter::has_required(const type_rule& rule, component& c,
                                   const ynode& node, const char* kind) {
  for (auto& [ours, flume] : rule.required) {
    auto* v = const_cast<ynode&>(node).find(std::string(ours));
    if (v && !(v->k == ynode::kind::map && v->items.empty())) continue;
    warn(c.props.front(), std::string(kind) + " " + c.name + " has no " +
                              std::string(flume) +
                              ": Flume refuses it and drops it, and so does "
                              "this");
    return false;
  }
  return true;
}

ynode agent_converter::channel_list(const prop& p, converter& cv,
                                    const ynode* among) {
  auto l = ynode::list();
  for (auto& name : split_ws(cv.value(p))) {
    if (among) {
      bool in = false;
      for (auto& [k, v] : among->items)
        in = in || v.text == yaml_quote(name);
      if (!in) {
        cv.unconvertible(p, "channel " + name +
                                " is not one of the source's channels "
                                "(Flume refuses the source)");
        continue;
      }
    }
    if (std::find(channels_out_.begin(), channels_out_.end(), name) !=
        channels_out_.end()) {
      l.push(ynode::str(name));
      continue;
    }
    auto* known = by_kind_["channels"].find(name);
    if (known && known->listed)
      cv.note("channel " + name + " (" + p.full +
              ") is left out: it was not converted");
    else
      cv.warn(p, "channel " + name +
                     " is not an active channel of the agent; Flume leaves "
                     "it out, and so does this");
  }
  return l;
}

void agent_converter::selector(component& c, converter& cv, ynode& out) {
  const ynode* among = out.find("channels");
  auto* type = cv.take({"selector.type"});
  std::string t = type ? std::string(trim(type->value)) : "replicating";
  std::string lower = t;
  for (auto& ch : lower)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  ynode sel;
  if (lower == "replicating" ||
      t == "org.apache.flume.channel.ReplicatingChannelSelector") {
    if (auto* opt = cv.take({"selector.optional"})) {
      sel.set("type", ynode::str("replicating"));
      sel.set("optional", channel_list(*opt, cv, among));
    }
  } else if (lower == "multiplexing" ||
             t == "org.apache.flume.channel.MultiplexingChannelSelector") {
    sel.set("type", ynode::str("multiplexing"));
    converter sc(c.props, sel, st_);
    sc.text({"selector.header"}, "header");
    for (auto* p : cv.take_prefix("selector.mapping."))
      sel.child("mapping").set(p->key.substr(17), channel_list(*p, cv, among));
    if (auto* d = cv.take({"selector.default"}))
      sel.set("default", channel_list(*d, cv, among));
    for (auto* p : cv.take_prefix("selector.optional."))
      sel.child("optional").set(p->key.substr(18), channel_list(*p, cv, among));
  } else {
    cv.unconvertible(*type, lower == "load_balancing"
                                ? "the load balancing channel selector has "
                                  "no flumen counterpart"
                                : "a selector class flumen does not have");
  }
  for (auto* p : cv.take_prefix("selector."))
    cv.unconvertible(*p, "not an option of this selector");
  if (!sel.items.empty()) out.set("selector", std::move(sel));
  (void)c;
}

void agent_converter::interceptors(component& c, converter& cv, ynode& out) {
  auto* list = cv.take({"interceptors"});
  auto parts = cv.take_prefix("interceptors.");
  auto l = ynode::list();
  std::vector<std::string> names;
  if (list) names = split_ws(trim(list->value));
  for (auto& name : names) {
    std::vector<prop> props;
    auto prefix = "interceptors." + name + ".";
    for (auto* p : parts)
      if (p->key.rfind(prefix, 0) == 0)
        props.push_back(
            {p->key.substr(prefix.size()), p->full, p->value, p->line, false});
    component ic{name, std::move(props), true};
    if (ic.props.empty()) {
      cv.unconvertible(*list, "interceptor " + name +
                                  " has no type; Flume refuses the source");
      continue;
    }
    ynode item;
    auto* rule = type_of(ic, role::interceptor, "interceptor", item);
    if (!rule) continue;
    converter icv(ic.props, item, st_);
    rule->convert(icv);
    icv.finish();
    for (auto& n : item.notes)
      out.notes.push_back("interceptor " + name + ": " + n);
    item.notes.clear();
    l.push(std::move(item));
  }
  for (auto* p : parts) {
    auto rest = p->key.substr(13);
    auto name = rest.substr(0, rest.find('.'));
    if (std::find(names.begin(), names.end(), name) == names.end())
      cv.warn(*p, "interceptor " + name +
                      " is not listed in interceptors; Flume ignores it, "
                      "and so does this");
  }
  if (!l.items.empty()) out.set("interceptors", std::move(l));
  (void)c;
}

void agent_converter::sources() {
  auto& out = out_.child("sources");
  for (auto* c : active(by_kind_["sources"], "source")) {
    ynode node;
    auto* rule = type_of(*c, role::source, "source", node);
    if (!rule) continue;
    converter cv(c->props, node, st_);
    auto* chans = cv.take({"channels"});
    if (!chans) {
      cv.warn(c->props.front().full, c->props.front().line,
              "source " + c->name + " has no channels; Flume drops it");
      continue;
    }
    auto list = channel_list(*chans, cv);
    if (list.items.empty()) {
      if (!cv.out().notes.empty())
        out_.notes.push_back("source " + c->name +
                             " left out: its channels were not "
                             "converted");
      else
        cv.warn(*chans,
                "source " + c->name + " has no active channel; Flume drops it");
      continue;
    }
    node.set("channels", std::move(list));
    rule->convert(cv);
    selector(*c, cv, node);
    interceptors(*c, cv, node);
    cv.finish();
    if (!has_required(*rule, *c, node, "source")) continue;
    out.set(c->name, std::move(node));
  }
}

void agent_converter::sinks() {
  auto& out = out_.child("sinks");
  for (auto* c : active(by_kind_["sinks"], "sink")) {
    ynode node;
    auto* rule = type_of(*c, role::sink, "sink", node);
    if (!rule) continue;
    converter cv(c->props, node, st_);
    auto* chan = cv.take({"channel"});
    if (!chan) {
      cv.warn(c->props.front().full, c->props.front().line,
              "sink " + c->name + " has no channel; Flume drops it");
      continue;
    }
    auto name = std::string(trim(chan->value));
    if (std::find(channels_out_.begin(), channels_out_.end(), name) ==
        channels_out_.end()) {
      auto* known = by_kind_["channels"].find(name);
      if (known && known->listed)
        out_.notes.push_back("sink " + c->name + " left out: its channel " +
                             name + " was not converted");
      else
        cv.warn(*chan, "channel " + name +
                           " is not an active channel; Flume drops the sink");
      continue;
    }
    node.set("channel", ynode::str(name));
    rule->convert(cv);
    cv.finish();
    if (!has_required(*rule, *c, node, "sink")) continue;
    sink_channel_[c->name] = name;
    out.set(c->name, std::move(node));
  }
}

void agent_converter::drop_group(ynode& groups) {
  auto& notes = groups.items.back().second.notes;
  out_.notes.insert(out_.notes.end(), notes.begin(), notes.end());
  groups.items.pop_back();
}

void agent_converter::sink_groups() {
  ynode groups;
  std::map<std::string, std::string> member_of;
  for (auto* g : active(by_kind_["sinkgroups"], "sinkgroup")) {
    converter cv(g->props, groups.child(g->name), st_);
    ynode& node = cv.out();
    auto* sinks = cv.take({"sinks"});
    auto* type = cv.take({"processor.type"});
    std::string t = type ? std::string(trim(type->value)) : "default";
    std::string lower = t;
    for (auto& ch : lower)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto l = ynode::list();
    std::string channel;
    bool one_channel = true;
    if (sinks)
      for (auto& s : split_ws(trim(sinks->value))) {
        if (!sink_channel_.count(s)) {
          cv.warn(*sinks, "sink " + s + " of group " + g->name +
                              " is not an active sink; left out");
          continue;
        }
        if (member_of.count(s)) {
          cv.unconvertible(*sinks, "sink " + s + " is in group " +
                                       member_of[s] +
                                       " too (Flume refuses that)");
          continue;
        }
        member_of[s] = g->name;
        if (!channel.empty() && sink_channel_[s] != channel)
          one_channel = false;
        channel = sink_channel_[s];
        l.push(ynode::str(s));
      }
    if (lower == "default" ||
        t == "org.apache.flume.sink.DefaultSinkProcessor") {
      cv.note("the default processor: each sink runs on its own");
      cv.finish();
      drop_group(groups);
      continue;
    }
    ynode proc;
    if (lower == "failover" ||
        t == "org.apache.flume.sink.FailoverSinkProcessor") {
      proc.set("type", ynode::str("failover"));
      std::map<long long, std::string> seen;
      for (auto* p : cv.take_prefix("processor.priority.")) {
        auto sink = p->key.substr(19);
        auto n = converter::parse_long(p->value);
        if (!n) {
          cv.unconvertible(*p, "not an integer priority");
          continue;
        }
        if (seen.count(*n)) {
          cv.unconvertible(*p, "the same priority as sink " + seen[*n] +
                                   ": Flume keeps only one of them");
          continue;
        }
        seen[*n] = sink;
        proc.child("priority").set(sink, ynode::raw(std::to_string(*n)));
      }
      converter pc(g->props, proc, st_);
      pc.millis({"processor.maxpenalty"}, "max_penalty");
    } else if (lower == "load_balance" ||
               t == "org.apache.flume.sink.LoadBalancingSinkProcessor") {
      proc.set("type", ynode::str("load_balance"));
      converter pc(g->props, proc, st_);
      pc.boolean({"processor.backoff"}, "backoff");
      if (auto* s = pc.take({"processor.selector"})) {
        auto v = std::string(trim(s->value));
        for (auto& ch : v)
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (v == "round_robin" || v == "random")
          proc.set("selector", ynode::str(v));
        else
          cv.unconvertible(*s, "a sink selector class flumen does not have");
      }
      pc.millis({"processor.selector.maxTimeOut"}, "max_backoff");
    } else {
      cv.unconvertible(*type, "a sink processor class flumen does not have");
    }
    cv.finish();
    if (!one_channel) {
      cv.unconvertible(*sinks, "the sinks of group " + g->name +
                                   " take from different channels; a flumen "
                                   "group shares one channel");
      drop_group(groups);
      continue;
    }
    if (l.items.size() < 2 || !proc.find("type")) {
      if (l.items.size() < 2)
        out_.notes.push_back("sink group " + g->name +
                             " left out: fewer than two of its sinks are "
                             "converted");
      drop_group(groups);
      continue;
    }
    node.set("sinks", std::move(l));
    node.set("processor", std::move(proc));
  }
  if (!groups.items.empty()) out_.set("sink_groups", std::move(groups));
}

void agent_converter::unused_channels() {
  auto& chans = out_.child("channels");
  std::map<std::string, bool> written, read;
  for (auto& [name, src] : out_.child("sources").items)
    if (auto* l = src.find("channels"))
      for (auto& [k, v] : l->items)
        written[v.text] = true;
  for (auto& [name, ch] : sink_channel_)
    read[yaml_quote(ch)] = true;
  for (auto it = chans.items.begin(); it != chans.items.end();) {
    auto q = yaml_quote(it->first);
    auto* c = by_kind_["channels"].find(it->first);
    const prop& at = c->props.front();
    if (!written[q] && !read[q]) {
      warn(at, "channel " + it->first +
                   " is used by no source and no sink: Flume keeps it idle; "
                   "left out (flumen refuses an unused channel)");
      channels_out_.erase(
          std::remove(channels_out_.begin(), channels_out_.end(), it->first),
          channels_out_.end());
      it = chans.items.erase(it);
      continue;
    }
    if (!read[q])
      note(at, "channel " + it->first +
                   " has no sink: in Flume it fills up, then holds up its "
                   "sources; flumen refuses a channel no sink reads");
    else if (!written[q])
      note(at, "channel " + it->first +
                   " has no source: in Flume its sinks wait for ever; flumen "
                   "refuses a channel nothing writes");
    ++it;
  }
}

void agent_converter::run() {
  // The topology lists sources, channels and sinks in this order.
  for (auto* kind : {"sources", "channels", "sinks"})
    out_.child(kind);
  split();
  config_filters();
  channels();
  sources();
  sinks();
  unused_channels();
  sink_groups();
  for (auto* kind : {"sources", "channels", "sinks"}) {
    auto* n = out_.find(kind);
    if (!n || n->items.empty()) {
      auto& k = by_kind_[kind];
      std::string key = full(kind);
      std::size_t line = k.list ? k.list->line : 0;
      st_.unconvertible.push_back(
          {key, line,
           std::string("no ") + kind +
               " to write: a flumen agent needs a source, a channel and a "
               "sink"});
    }
  }
}

} // namespace

import_result import_flume(std::string_view text, const import_options& opt) {
  import_result result;
  auto props = read_properties(text);
  if (!props.ok()) {
    result.error = props.error;
    result.error_line = props.error_line;
    return result;
  }
  import_state st;
  for (auto& d : props.duplicates)
    st.warnings.push_back({d.key, d.line,
                           "given again (first on line " +
                               std::to_string(d.first_line) +
                               "); the last value counts, as in Flume"});
  std::vector<agent_input> agents;
  for (auto& p : props.entries) {
    auto key = std::string(trim(p.key));
    if (trim(p.value).empty()) {
      st.warnings.push_back({key, p.line, "an empty value; Flume ignores it"});
      continue;
    }
    auto dot = key.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()) {
      st.warnings.push_back({key, p.line, "not AGENT.KEY; Flume ignores it"});
      continue;
    }
    auto name = key.substr(0, dot);
    if (has_control(name)) {
      st.unconvertible.push_back(
          {key, p.line,
           "an agent name with control characters (flumen refuses them: "
           "they would split its log lines)"});
      continue;
    }
    auto it = std::find_if(agents.begin(), agents.end(),
                           [&](auto& a) { return a.name == name; });
    if (it == agents.end()) {
      agents.push_back({name, {}});
      it = agents.end() - 1;
    }
    it->props.push_back({key.substr(dot + 1), key, p.value, p.line, false});
  }
  if (!opt.agent.empty()) {
    auto it = std::find_if(agents.begin(), agents.end(),
                           [&](auto& a) { return a.name == opt.agent; });
    if (it == agents.end()) {
      std::string names;
      for (auto& a : agents)
        names += (names.empty() ? "" : ", ") + a.name;
      result.error = "no agent " + opt.agent + " in the file" +
                     (names.empty() ? "" : " (it has " + names + ")");
      return result;
    }
    auto chosen = std::move(*it);
    agents.clear();
    agents.push_back(std::move(chosen));
  }
  if (agents.empty()) {
    result.error = "no agent in the file (no AGENT.sources = ... lines)";
    return result;
  }
  ynode root;
  auto& out = root.child("agents");
  std::string names;
  for (auto& a : agents) {
    agent_converter(a, st, out.child(a.name)).run();
    names += (names.empty() ? "" : ", ") + a.name;
  }
  result.unconvertible = std::move(st.unconvertible);
  result.warnings = std::move(st.warnings);
  if (!result.unconvertible.empty() && !opt.partial) return result;
  std::vector<std::string> header{
      "Converted by `flumen import` from " +
          (opt.file_name.empty() ? std::string("a Flume properties file")
                                 : opt.file_name) +
          " (Flume agent" + (agents.size() == 1 ? " " : "s ") + names + ").",
      "Flume's defaults are written out where flumen's differ, marked "
      "\"Flume's default\"."};
  if (!result.unconvertible.empty())
    header.push_back("Partial: " + std::to_string(result.unconvertible.size()) +
                     " propert" +
                     (result.unconvertible.size() == 1 ? "y was" : "ies were") +
                     " not converted (see the comments \"not converted\").");
  result.yaml = render_yaml(root, header);
  return result;
}

} // namespace flumen::flume
