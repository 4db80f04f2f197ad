#pragma once

#include "runtime/config/registry.hpp"

namespace flumen {

/// Registers every built-in component type: the one list of them
/// (actors/builtin.cpp).
void register_builtin(registry& r);

} // namespace flumen
