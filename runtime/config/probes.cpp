#include "runtime/config/probes.hpp"

#include <dlfcn.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace flumen {

listen_probe probe_listen(const std::string& host, transport t) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = t == transport::udp ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (auto rc = ::getaddrinfo(host.c_str(), "0", &hints, &res))
    return {{}, rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc)};
  listen_probe out{{}, "no address"};
  for (auto ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                      ai->ai_protocol);
    if (fd < 0) {
      out.error = std::strerror(errno);
      continue;
    }
    bool bound = ::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    if (!bound) {
      auto err = errno;
      out.error = std::strerror(err);
      if (err == EADDRNOTAVAIL)
        out.error += " (not an address of this machine)";
    }
    ::close(fd);
    if (!bound) continue;
    char name[NI_MAXHOST];
    if (::getnameinfo(ai->ai_addr, ai->ai_addrlen, name, sizeof(name), nullptr,
                      0, NI_NUMERICHOST) == 0)
      out = {name, {}};
    else
      out = {host, {}};
    break;
  }
  ::freeaddrinfo(res);
  return out;
}

std::optional<std::string> unloadable_library(const std::string& soname) {
  // Found as the component would find it (the loader's search path), and
  // kept: it is loaded at the component's start anyway.
  if (dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL)) return std::nullopt;
  const char* why = dlerror();
  return std::string{why ? why : "unknown error"};
}

std::optional<std::string> unwritable_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p{dir};
  if (p.is_relative()) p = fs::current_path(ec) / p;
  // The nearest part of the path that exists must be a writable directory
  // (it is where the missing rest would be created).
  auto at = p;
  while (!fs::exists(at, ec) && at.has_parent_path() && at != at.parent_path())
    at = at.parent_path();
  if (!fs::is_directory(at, ec))
    return "'" + at.string() + "' is not a directory";
  if (::access(at.c_str(), W_OK | X_OK) != 0)
    return "cannot write in '" + at.string() + "': " + std::strerror(errno);
  return std::nullopt;
}

bool wildcard_address(const std::string& address) {
  return address == "0.0.0.0" || address == "::";
}

std::string endpoint(const std::string& address, uint16_t port) {
  auto host =
      address.find(':') == std::string::npos ? address : "[" + address + "]";
  return host + ":" + std::to_string(port);
}

} // namespace flumen
