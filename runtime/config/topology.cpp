#include "runtime/config/topology.hpp"

#include "runtime/config/loader.hpp"
#include "runtime/config/probes.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace flumen {

namespace {

/// The largest topology file read. A topology is a few KiB; the limit keeps
/// `flumen validate /dev/zero` or a mistaken log file from eating memory.
constexpr std::size_t max_topology_bytes = 4 * 1024 * 1024;

std::string too_large(uint64_t size) {
  return "too large (" + std::to_string(size) +
         " bytes; a topology file may have at most " +
         std::to_string(max_topology_bytes / (1024 * 1024)) + " MiB)";
}

} // namespace

using namespace detail;

const component_spec*
agent_spec::find_channel(const std::string& channel_name) const {
  for (const auto& c : channels)
    if (c.name == channel_name) return &c;
  return nullptr;
}

link_security agent_spec::tls() const {
  for (const auto* list : {&sources, &sinks})
    for (const auto& c : *list)
      if (c.facts.security.tls()) return c.facts.security;
  for (const auto& n : nodes)
    if (n.security.tls()) return n.security;
  return {};
}

placed_sink load_placed_sink(const std::string& yaml, const std::string& path,
                             const registry& reg) {
  placed_sink out;
  YAML::Node node;
  try {
    node = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    out.errors.push_back(
        {{}, path, std::string{"malformed YAML: "} + e.what()});
    return out;
  }
  if (!node.IsMap()) {
    out.errors.push_back({{}, path, "expected a mapping with 'type'"});
    return out;
  }
  if (!check_yaml_bounds(node, "(sent by the agent)", out.errors, path))
    return out;
  scoped_no_env_expansion as_sent; // the agent expanded it already
  option_reader r(node, path, "(sent by the agent)", out.errors);
  auto type = r.required_str("type");
  r.known({"channel", "dead_letter_channel", "replicas", "placement"});
  if (type.empty()) return out;
  auto spawn = reg.parse("sinks", type, r);
  if (!spawn) {
    if (!r.failed("type")) // else its parser threw: said at `type`
      r.invalid("type", "unknown sink type '" + type + "' on this node");
    return out;
  }
  r.finish();
  if (out.errors.empty()) out.spawn = std::move(*spawn);
  return out;
}

const agent_spec* topology::find(const std::string& agent_name) const {
  for (const auto& a : agents)
    if (a.name == agent_name) return &a;
  return nullptr;
}

namespace {

/// What a user with a Flume properties file should do.
// When `flumen import` exists (issue 21), this becomes: "run `flumen
// import FILE` to convert it".
std::string flume_file_advice() {
  return "convert it with `flumen import FILE -o FILE.yaml` "
         "(docs/migrating-from-flume.md)";
}

bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f';
}

} // namespace

std::optional<flume_line> flume_properties_line(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3); // a BOM
  bool first = true;
  int number = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    std::size_t i = 0;
    while (i < line.size() && blank(line[i]))
      ++i;
    if (i == line.size() || line[i] == '#' || line[i] == '!') continue;
    // A property: a dotted key (`a1.sources`, `a1.channels.c1.type`), then
    // `=`, `:` or blanks, then its value (Java's properties syntax).
    auto key_end = i;
    while (key_end < line.size() && !blank(line[key_end]) &&
           line[key_end] != '=' && line[key_end] != ':')
      ++key_end;
    auto key = line.substr(i, key_end - i);
    auto dot = key.find('.');
    bool property = dot != std::string_view::npos && dot > 0 &&
                    key_end < line.size() &&
                    std::all_of(key.begin(), key.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) ||
                             c == '.' || c == '_' || c == '-';
                    });
    // The file must start as one: a YAML topology starts with `agents:`
    // or `nodes:` (or a comment, `---`, `%YAML`).
    if (first && !property) return std::nullopt;
    first = false;
    if (!property) continue;
    // Flume's agent declaration and components: `AGENT.sources = ...`,
    // `AGENT.sinks.k1.type = ...`.
    auto rest = key.substr(dot + 1);
    auto kind = rest.substr(0, rest.find('.'));
    if (kind == "sources" || kind == "channels" || kind == "sinks" ||
        kind == "sinkgroups") {
      auto shown = line.substr(i);
      while (!shown.empty() && blank(shown.back()))
        shown.remove_suffix(1);
      if (shown.size() > 80) shown = shown.substr(0, 80);
      return flume_line{number, static_cast<int>(i) + 1, std::string{shown}};
    }
  }
  return std::nullopt;
}

std::optional<config_error> missing_agent(const topology& topo,
                                          const std::string& name) {
  if (topo.find(name)) return std::nullopt;
  std::vector<std::string> names;
  for (const auto& a : topo.agents)
    names.push_back(a.name);
  config_error err{
      {topo.file, 0, 0}, "agents", "no agent named '" + name + "'"};
  if (!topo.agents.empty()) err.where = topo.agents.front().where;
  if (auto m = closest_match(name, names)) {
    err.where = topo.find(*m)->where;
    err.message += " (did you mean '" + *m + "'?)";
  } else if (!names.empty()) {
    err.message += " (agents: " + join(names) + ")";
  }
  return err;
}

namespace {

/// Why `st` is no file to read as a topology; empty when it is one.
std::string not_a_topology_file(const struct stat& st) {
  if (S_ISDIR(st.st_mode)) return std::strerror(EISDIR);
  if (!S_ISREG(st.st_mode)) {
    auto kind = S_ISFIFO(st.st_mode)   ? "a FIFO"
                : S_ISCHR(st.st_mode)  ? "a character device"
                : S_ISBLK(st.st_mode)  ? "a block device"
                : S_ISSOCK(st.st_mode) ? "a socket"
                                       : "no regular file";
    return std::string{"not a regular file ("} + kind + ")";
  }
  if (static_cast<uint64_t>(st.st_size) > max_topology_bytes)
    return too_large(static_cast<uint64_t>(st.st_size));
  return {};
}

} // namespace

topology_text read_topology_file(const std::string& file) {
  topology_text out;
  // Look before opening: opening a device may do things (a tape rewinds),
  // and reading /dev/zero or a FIFO would never end.
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  if (out.error = not_a_topology_file(st); !out.error.empty()) return out;
  // O_NONBLOCK: should the path have become a FIFO since, open won't wait
  // for a writer; fstat then tells.
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    out.error = std::strerror(errno);
    return out;
  }
  auto& text = out.text;
  auto& why = out.error;
  if (::fstat(fd, &st) != 0)
    why = std::strerror(errno);
  else
    why = not_a_topology_file(st);
  // At most one byte past the limit, in case the file grows meanwhile.
  char buf[64 * 1024];
  while (why.empty() && text.size() <= max_topology_bytes) {
    auto want = std::min(sizeof(buf), max_topology_bytes + 1 - text.size());
    auto n = ::read(fd, buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) why = std::strerror(errno);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (why.empty() && text.size() > max_topology_bytes)
    why = too_large(text.size());
  if (!why.empty()) text.clear();
  return out;
}

load_result load_topology(const std::string& file, const registry& reg,
                          const probe_scope& probe) {
  auto read = read_topology_file(file);
  if (!read.error.empty()) {
    load_result res;
    res.topo.file = file;
    res.errors.push_back({{file, 0, 0}, "", "cannot read file: " + read.error});
    return res;
  }
  return load_topology_text(read.text, file, reg, probe);
}

load_result load_topology_text(const std::string& text, const std::string& file,
                               const registry& reg, const probe_scope& probe) {
  load_result res;
  res.topo.file = file;
  // Flume's own agent files are what most users have: say what this is,
  // rather than "expected a mapping with key 'agents'".
  if (auto line = flume_properties_line(text)) {
    res.errors.push_back({{file, line->number, line->column},
                          "",
                          "this is a Flume properties file ('" + line->text +
                              "'), and flumen reads YAML topologies "
                              "(docs/reference/topology.md): " +
                              flume_file_advice()});
    return res;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
    // Aliases are shared nodes that every walk below expands: bound them
    // before anything walks (or copies) the document.
    if (check_yaml_bounds(root, file, res.errors)) {
      loader l{reg, file, text, res.errors, probe};
      l.warn_into(res.warnings);
      l.load(root, res.topo);
    }
  } catch (const YAML::Exception& e) {
    // Malformed YAML (or a component parser tripping over yaml-cpp).
    location where{file, 0, 0};
    if (!e.mark.is_null()) where = {file, e.mark.line + 1, e.mark.column + 1};
    res.errors.push_back({where, "", e.msg});
  } catch (const std::exception& e) {
    res.errors.push_back({{file, 0, 0}, "", e.what()});
  }
  // Report in file order, however the checks happened to find them.
  std::stable_sort(res.errors.begin(), res.errors.end(),
                   [](const config_error& x, const config_error& y) {
                     return std::pair{x.where.line, x.where.col} <
                            std::pair{y.where.line, y.where.col};
                   });
  return res;
}

} // namespace flumen
