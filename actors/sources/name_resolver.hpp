#pragma once

// Host names of a source's clients (syslog's client_hostname_header),
// looked up off the reader thread: a slow or dead DNS server must not
// hold every client of a source while one name is looked up.

#include <atomic>
#include <memory>
#include <string>

namespace flumen::sources {

/// A name being looked up: `ready` once `name` is set (the host name, or
/// the address itself when it has none, as Java's getHostName gives).
struct resolved_name {
  std::atomic<bool> ready{false};
  std::string name;
};

/// Looks names up on a thread of its own, one at a time, and remembers up
/// to 4096 of them. The thread ends after its current lookup once the
/// resolver is gone (it is detached: a lookup that takes the resolver's
/// full timeout never holds a stop up).
class name_resolver {
public:
  name_resolver();
  ~name_resolver();
  name_resolver(const name_resolver&) = delete;
  name_resolver& operator=(const name_resolver&) = delete;

  /// The name of numeric address `ip`: ready at once when known, else
  /// once the thread has looked it up.
  std::shared_ptr<resolved_name> lookup(const std::string& ip);

  struct state;

private:
  std::shared_ptr<state> state_;
};

} // namespace flumen::sources
