#include "aigw/proxy/snapshot.hpp"

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace aigw::proxy {
namespace {

boost::json::object model_object(const routing::route_table::served_model& m,
                                 const config::gateway& config) {
  // `created` is required by the OpenAI schema; the gateway has no creation date to offer.
  return {{"id", m.id},
          {"object", "model"},
          {"created", 0},
          {"owned_by", config.backends[m.backend_index].name}};
}

}  // namespace

std::shared_ptr<const snapshot> snapshot::compile(config::gateway config,
                                                  const snapshot* previous) {
  routing::route_table routes(config);
  std::vector<upstream::target> targets;
  targets.reserve(config.backends.size());
  for (size_t i = 0; i < config.backends.size(); ++i)
    targets.push_back(
        upstream::target::compile(config.backends[i], fmt::format("backends[{}]", i)));
  auto same_backend = [](const config::backend& a, const config::backend& b) {
    return a.name == b.name && a.url == b.url && a.ca_file == b.ca_file &&
           a.tls_insecure_skip_verify == b.tls_insecure_skip_verify && a.breaker == b.breaker;
  };
  std::vector<std::string> slot_names =
      previous ? previous->slot_names : std::vector<std::string>{};
  for (std::size_t i = 0; i < targets.size(); ++i) {
    bool kept = false;
    for (std::size_t j = 0; previous && j < previous->targets.size() && !kept; ++j) {
      if (!same_backend(previous->config.backends[j], config.backends[i])) continue;
      targets[i].health = previous->targets[j].health;
      targets[i].slot = previous->targets[j].slot;
      kept = true;
    }
    if (!kept) {
      targets[i].slot = slot_names.size();
      slot_names.push_back(targets[i].name);
    }
  }
  boost::json::array data;
  for (const auto& m : routes.exact_models()) data.push_back(model_object(m, config));
  auto models_json =
      boost::json::serialize(boost::json::object{{"object", "list"}, {"data", std::move(data)}});
  proxy::object_ids ids(config);
  decltype(snapshot::known_models) known_models;
  for (const auto& m : routes.exact_models()) known_models.insert(m.id);
  auto clients = client_table::compile(config.clients, previous ? &previous->clients : nullptr);
  return std::make_shared<const snapshot>(snapshot{
      std::move(config), std::move(routes), std::move(targets), std::move(slot_names),
      std::move(models_json), std::move(ids), std::move(known_models), std::move(clients)});
}

std::optional<std::string> snapshot::model_json(std::string_view id,
                                                const client_table::entry* client) const {
  if (client && !client_table::allows(*client, id)) return std::nullopt;
  for (const auto& m : routes.exact_models())
    if (m.id == id) return boost::json::serialize(model_object(m, config));
  return std::nullopt;
}

std::string snapshot::models_json_for(const client_table::entry* client) const {
  if (!client || client->config.models.empty()) return models_json;
  boost::json::array data;
  for (const auto& m : routes.exact_models())
    if (client_table::allows(*client, m.id)) data.push_back(model_object(m, config));
  return boost::json::serialize(boost::json::object{{"object", "list"}, {"data", std::move(data)}});
}

}  // namespace aigw::proxy
