#include "app/top_view.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace flumen {

namespace {
std::string fmt_penalty(uint64_t ms) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "group: penalty %.1f s",
                static_cast<double>(ms) / 1000.0);
  return buf;
}
} // namespace

uint64_t top_component::counter(const std::string& key) const {
  auto it = counters.find(key);
  return it == counters.end() ? 0 : it->second;
}

std::optional<top_sample> parse_stats(const std::string& json,
                                      std::string* error) {
  try {
    auto j = nlohmann::json::parse(json);
    top_sample s;
    s.agent = j.at("agent").get<std::string>();
    s.uptime_seconds = j.at("uptime_seconds").get<double>();
    s.rss_bytes = j.value("rss_bytes", uint64_t{0});
    for (auto& c : j.at("components")) {
      top_component tc;
      tc.name = c.at("name").get<std::string>();
      tc.kind = c.at("kind").get<std::string>();
      tc.type = c.value("type", "");
      tc.state = c.value("state", "");
      tc.reason = c.value("reason", "");
      tc.placement = c.value("placement", "");
      if (auto it = c.find("counters"); it != c.end())
        for (auto& [k, v] : it->items())
          if (v.is_number_unsigned()) tc.counters[k] = v.get<uint64_t>();
      s.components.push_back(std::move(tc));
    }
    return s;
  } catch (const std::exception& ex) {
    if (error) *error = ex.what();
    return std::nullopt;
  }
}

std::pair<const char*, const char*> flow_counters(const std::string& kind) {
  if (kind == "source") return {"events_received", "events_accepted"};
  if (kind == "channel") return {"events_put", "events_committed"};
  return {"events_taken", "events_committed"};
}

uint64_t error_count(const top_component& c) {
  return c.counter("connection_failures") + c.counter("events_dropped") +
         c.counter("hop_batches_refused") + c.counter("write_errors") +
         c.counter("corrupt_records");
}

std::string fill_bar(uint64_t size, uint64_t capacity, std::size_t cells) {
  double frac = capacity == 0
                    ? 0.0
                    : std::min(1.0, static_cast<double>(size) /
                                        static_cast<double>(capacity));
  auto filled = static_cast<std::size_t>(frac * static_cast<double>(cells));
  if (filled == 0 && size > 0) filled = 1; // held events never look empty
  std::string out = "[";
  out.append(filled, '#');
  out.append(cells - filled, ' ');
  char pct[16];
  std::snprintf(pct, sizeof pct, "] %3d%%",
                static_cast<int>(std::floor(frac * 100.0)));
  return out + pct;
}

std::string human_rate(double v) {
  char buf[32];
  if (v < 0.05)
    return "0";
  else if (v < 10)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (v < 1000)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v < 1e6)
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
  return buf;
}

namespace {

std::string duration_text(double seconds) {
  auto s = static_cast<uint64_t>(std::max(0.0, seconds));
  char buf[48];
  if (s >= 86400)
    std::snprintf(buf, sizeof buf, "%llud%02lluh%02llum",
                  static_cast<unsigned long long>(s / 86400),
                  static_cast<unsigned long long>(s % 86400 / 3600),
                  static_cast<unsigned long long>(s % 3600 / 60));
  else if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lluh%02llum%02llus",
                  static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s % 3600 / 60),
                  static_cast<unsigned long long>(s % 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%llum%02llus",
                  static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
  return buf;
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB",
                static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::string pad(std::string s, std::size_t width, bool right = false) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s
               : s + std::string(width - s.size(), ' ');
}

int kind_order(const std::string& kind) {
  if (kind == "source") return 0;
  if (kind == "channel") return 1;
  if (kind == "sink") return 2;
  return 3;
}

// Events per second of `key` between the samples; nullopt without a
// previous sample of the component, or when it counts from zero again (a
// restart that replaced its counters, a reload).
std::optional<double> rate(const top_component& now, const top_component* prev,
                           double dt, const char* key) {
  if (!prev || dt <= 0) return std::nullopt;
  auto a = prev->counter(key);
  auto b = now.counter(key);
  if (b < a) return std::nullopt;
  return static_cast<double>(b - a) / dt;
}

} // namespace

std::string render_top(const top_sample& now, const top_sample* prev,
                       const top_frame_options& opt) {
  std::vector<const top_component*> rows;
  for (auto& c : now.components)
    rows.push_back(&c);
  std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) {
    return kind_order(a->kind) < kind_order(b->kind);
  });
  std::size_t name_w = 4;
  std::size_t type_w = 4;
  for (auto* c : rows) {
    name_w = std::max(name_w, c->name.size());
    type_w = std::max(type_w, c->type.size());
  }
  double dt = prev ? now.uptime_seconds - prev->uptime_seconds : 0;
  auto find_prev = [&](const top_component& c) -> const top_component* {
    if (!prev || prev->agent != now.agent) return nullptr;
    for (auto& p : prev->components)
      if (p.kind == c.kind && p.name == c.name) return &p;
    return nullptr;
  };

  std::vector<std::string> lines;
  std::string head = "flumen top - agent " + now.agent;
  if (!opt.address.empty()) head += " at " + opt.address;
  if (!opt.unreachable_since.empty())
    head += " - UNREACHABLE since " + opt.unreachable_since +
            ", retrying (figures as last seen)";
  head += " - up " + duration_text(now.uptime_seconds);
  if (now.rss_bytes > 0) head += " - RSS " + mib(now.rss_bytes);
  head += " - " + std::to_string(rows.size()) + " components";
  if (opt.interactive) head += " - q quits";
  lines.push_back(head);
  lines.emplace_back();
  const std::size_t fill_w = 17; // "[##########] 100%"
  auto row = [&](const std::string& kind, const std::string& name,
                 const std::string& type, const std::string& state,
                 const std::string& in, const std::string& out,
                 const std::string& fill, const std::string& rollbacks,
                 const std::string& restarts, const std::string& errors,
                 const std::string& note) {
    std::string l = pad(kind, 9) + pad(name, name_w + 2) +
                    pad(type, type_w + 2) + pad(state, 12) + pad(in, 8, true) +
                    pad(out, 9, true) + "  " + pad(fill, fill_w) +
                    pad(rollbacks, 11, true) + pad(restarts, 10, true) +
                    pad(errors, 8, true);
    if (!note.empty()) l += "  " + note;
    while (!l.empty() && l.back() == ' ')
      l.pop_back();
    return l;
  };
  lines.push_back(row("KIND", "NAME", "TYPE", "STATE", "IN/S", "OUT/S", "FILL",
                      "ROLLBACKS", "RESTARTS", "ERRORS", "REASON"));
  for (auto* c : rows) {
    auto [in_key, out_key] = flow_counters(c->kind);
    auto* p = find_prev(*c);
    auto in = rate(*c, p, dt, in_key);
    auto out = rate(*c, p, dt, out_key);
    std::string fill;
    if (c->kind == "channel")
      fill =
          fill_bar(c->counter("channel_size"), c->counter("channel_capacity"));
    std::string note;
    if (c->state != "running" && !c->reason.empty())
      note = c->reason;
    else if (!c->placement.empty())
      note = "on " + c->placement;
    if (auto f = c->counter("events_filtered"); f > 0 && note.empty())
      note = "filtered " + std::to_string(f);
    // A sink group's member: whether it takes, or how long it is passed
    // over (its own gauges, runtime/flow/sink_gate.cpp).
    if (note.empty() && c->counters.contains("group_active")) {
      if (c->counter("group_active") == 1)
        note = "group: active";
      else if (auto ms = c->counter("group_penalty_ms"); ms > 0)
        note = fmt_penalty(ms);
      else
        note = "group: standby";
    }
    // A reason is free text (an exception's, a broker's): one line.
    for (auto& ch : note)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) ch = ' ';
    lines.push_back(row(c->kind, c->name, c->type, c->state,
                        in ? human_rate(*in) : "-",
                        out ? human_rate(*out) : "-", fill,
                        std::to_string(c->counter("events_rolled_back")),
                        std::to_string(c->counter("restarts")),
                        std::to_string(error_count(*c)), note));
  }
  std::string text;
  for (auto& l : lines) {
    if (opt.width > 0 && l.size() > opt.width) {
      auto cut = opt.width; // not inside a UTF-8 sequence
      while (cut > 0 && (static_cast<unsigned char>(l[cut]) & 0xC0) == 0x80)
        --cut;
      l.resize(cut);
    }
    text += l;
    text += '\n';
  }
  return text;
}

} // namespace flumen
