#pragma once

#include <string>
#include <utility>
#include <vector>

namespace flumen {

/// A source's channel selector (Flume's): which of its `channels` each
/// event is put to. Replicating (the default): every channel, those in
/// `optional` on a best-effort basis. Multiplexing: by the value of header
/// `header`, the channels `mapping` gives it (or `default_channels` when
/// the header is absent, empty or unmapped), plus the value's `optional`
/// ones. Channel names are the source's; the loader checks them.
struct selector_spec {
  enum class kind { replicating, multiplexing };
  kind type = kind::replicating;
  /// Multiplexing: the header whose value chooses (Flume's default name).
  std::string header = "flume.selector.header";
  /// Multiplexing: value -> required channels, in file order.
  std::vector<std::pair<std::string, std::vector<std::string>>> mapping;
  /// Multiplexing: the required channels of an unmapped value.
  std::vector<std::string> default_channels;
  /// Multiplexing: value -> optional channels. Replicating: one entry
  /// under "" with the optional channels.
  std::vector<std::pair<std::string, std::vector<std::string>>> optional;

  /// Replicating with no optional channel: every channel required, the
  /// route of a source without `selector`.
  bool plain() const { return type == kind::replicating && optional.empty(); }
  bool operator==(const selector_spec&) const = default;
};

} // namespace flumen
