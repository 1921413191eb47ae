// Config loading in every dialect (native, Envoy AI Gateway, archgw, LiteLLM; the first byte
// picks one, or detection), with every ${VAR} set. Any refusal is an error message, never a
// crash; a config that loads prints as native YAML that loads again to the same backends and
// routes, and prints the same again.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "aigw/config/loader.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using aigw::config::config_format;
  aigw::fuzz::input in(data, size);
  static constexpr config_format kFormats[] = {config_format::automatic, config_format::native,
                                               config_format::envoy_ai_gateway,
                                               config_format::archgw, config_format::litellm};
  auto format = kFormats[in.choice() % 5];
  auto env = [](std::string_view) -> std::optional<std::string> {
    return std::string("fuzz-secret-value");
  };
  aigw::config::loaded_config loaded;
  try {
    loaded = aigw::config::load_config(in.rest(), format, env);
  } catch (const std::exception&) {
    return 0;  // refused: any error is a message, never a crash
  }
  auto printed = aigw::config::print_native(loaded.config);
  try {
    auto again = aigw::config::load_config(printed, config_format::native, env).config;
    const auto& first = loaded.config;
    AIGW_FUZZ_CHECK(again.backends.size() == first.backends.size());
    for (std::size_t i = 0; i < first.backends.size(); ++i)
      AIGW_FUZZ_CHECK(again.backends[i].name == first.backends[i].name &&
                      again.backends[i].url == first.backends[i].url);
    AIGW_FUZZ_CHECK(again.routes.size() == first.routes.size());
    for (std::size_t i = 0; i < first.routes.size(); ++i) {
      AIGW_FUZZ_CHECK(again.routes[i].model == first.routes[i].model);
      AIGW_FUZZ_CHECK(again.routes[i].targets.size() == first.routes[i].targets.size());
      for (std::size_t t = 0; t < first.routes[i].targets.size(); ++t)
        AIGW_FUZZ_CHECK(again.routes[i].targets[t].backend == first.routes[i].targets[t].backend);
    }
    auto reprinted = aigw::config::print_native(again);
    if (reprinted != printed) {
      std::fprintf(stderr, "printed:\n%s\nprinted again:\n%s\n", printed.c_str(),
                   reprinted.c_str());
      aigw::fuzz::broken("a printed config prints the same again");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "printed config does not load: %s\n%s\n", e.what(), printed.c_str());
    std::abort();
  }
  return 0;
}
