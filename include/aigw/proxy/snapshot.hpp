#pragma once
// Everything a request needs from the configuration, compiled once and never changed: a
// request holds a shared_ptr to one snapshot for its whole life, so a future reload only
// swaps the pointer.
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "aigw/config/config.hpp"
#include "aigw/proxy/clients.hpp"
#include "aigw/proxy/object_ids.hpp"
#include "aigw/routing/route_table.hpp"
#include "aigw/upstream/target.hpp"

namespace aigw::proxy {

struct snapshot {
  config::gateway config;
  routing::route_table routes;
  std::vector<upstream::target> targets;  // index = backend index
  // Every backend slot so far (upstream::target::slot), by slot: the name it had. Slots of
  // backends a reload removed keep their names (their counters are still shown).
  std::vector<std::string> slot_names;
  std::string models_json;  // GET /v1/models body
  object_ids affinity;      // object affinity (off with one backend)
  // The model names the routes mention exactly: metric labels always keep these.
  struct model_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_set<std::string, model_hash, std::equal_to<>> known_models;
  // Who may call, and their budgets (empty without `clients:`: anyone may).
  client_table clients;

  // Throws config::config_error (e.g. an unreadable ca_file). With `previous` (a reload), a
  // backend whose name, URL, TLS settings and breaker settings are unchanged keeps its slot
  // (pooled connections, counters) and its health (breaker, back-off).
  static std::shared_ptr<const snapshot> compile(config::gateway config,
                                                 const snapshot* previous = nullptr);

  // The GET /v1/models/{id} body, or nullopt when no route names that model (or `client`,
  // when given, may not use it).
  std::optional<std::string> model_json(std::string_view id,
                                        const client_table::entry* client = nullptr) const;
  // The GET /v1/models body for `client`: the models it may use (all, without a client or
  // a model list).
  std::string models_json_for(const client_table::entry* client) const;
};

}  // namespace aigw::proxy
