#pragma once
// What more than one fuzz target needs built once: a gateway's object ids (three backends,
// so that ids are minted and decoded).
#include "aigw/config/config.hpp"
#include "aigw/proxy/object_ids.hpp"

namespace aigw::fuzz {

inline const proxy::object_ids& three_backend_ids() {
  static const auto config = [] {
    config::gateway g;
    for (const char* name : {"openai", "azure", "local"}) {
      config::backend b;
      b.name = name;
      b.api_key = std::string("sk-") + name;
      g.backends.push_back(b);
    }
    return g;
  }();
  static const proxy::object_ids instance(config);
  return instance;
}

}  // namespace aigw::fuzz
