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
  if (previous)
    for (std::size_t i = 0; i < targets.size(); ++i)
      for (std::size_t j = 0; j < previous->targets.size(); ++j)
        if (previous->config.backends[j].name == config.backends[i].name &&
            previous->config.backends[j].url == config.backends[i].url &&
            previous->config.backends[j].breaker == config.backends[i].breaker)
          targets[i].health = previous->targets[j].health;
  boost::json::array data;
  for (const auto& m : routes.exact_models()) data.push_back(model_object(m, config));
  auto models_json =
      boost::json::serialize(boost::json::object{{"object", "list"}, {"data", std::move(data)}});
  proxy::object_ids ids(config);
  decltype(snapshot::known_models) known_models;
  for (const auto& m : routes.exact_models()) known_models.insert(m.id);
  return std::make_shared<const snapshot>(snapshot{std::move(config), std::move(routes),
                                                   std::move(targets), std::move(models_json),
                                                   std::move(ids), std::move(known_models)});
}

std::optional<std::string> snapshot::model_json(std::string_view id) const {
  for (const auto& m : routes.exact_models())
    if (m.id == id) return boost::json::serialize(model_object(m, config));
  return std::nullopt;
}

}  // namespace aigw::proxy
