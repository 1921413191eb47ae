#include "dialects.hpp"

#include "../yaml_reader.hpp"

#include <netdb.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>
#include <yaml-cpp/eventhandler.h>
#include <boost/url/parse.hpp>

namespace aigw::config {

namespace dialects {

const char* provider_base_url(std::string_view provider) {
  struct known {
    std::string_view provider;
    const char* url;
  };
  static constexpr std::array kKnown = {
      known{"openai", "https://api.openai.com/v1"},
      known{"ollama", "http://127.0.0.1:11434/v1"},
      known{"ollama_chat", "http://127.0.0.1:11434/v1"},
      known{"mistral", "https://api.mistral.ai/v1"},
      known{"groq", "https://api.groq.com/openai/v1"},
      known{"deepseek", "https://api.deepseek.com/v1"},
      known{"together_ai", "https://api.together.xyz/v1"},
      known{"together", "https://api.together.xyz/v1"},
      known{"openrouter", "https://openrouter.ai/api/v1"},
      known{"xai", "https://api.x.ai/v1"},
      known{"gemini", "https://generativelanguage.googleapis.com/v1beta/openai"},
      known{"anthropic", "https://api.anthropic.com/v1"},
  };
  for (const auto& k : kKnown)
    if (k.provider == provider) return k.url;
  return nullptr;
}

config::schema provider_schema(std::string_view provider) {
  if (provider == "anthropic") return config::schema::anthropic;
  if (provider == "bedrock") return config::schema::bedrock;
  return config::schema::openai;
}

std::string translation_note(const std::string& path, config::schema schema) {
  if (schema == config::schema::bedrock)
    return fmt::format(
        "{}: Bedrock's Converse API, translated: chat completions only (n = 1), images as "
        "base64 only, response_format as an instruction, reasoning_effort not sent",
        path);
  if (schema != config::schema::anthropic) return {};
  return fmt::format(
      "{}: Anthropic's Messages API, translated: chat completions only (n = 1), max_tokens "
      "4096 when the client gives none, response_format as an instruction, reasoning_effort "
      "as a thinking budget",
      path);
}

std::string with_api_root(std::string url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (parsed && (parsed->encoded_path().empty() || parsed->encoded_path() == "/")) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += "/v1";
  }
  return url;
}

std::string outside_docker(std::string host, warnings& notes, const std::string& path) {
  if (host != "host.docker.internal") return host;
  // Inside Docker the name resolves to the host; elsewhere it does not, and the host is here.
  addrinfo* found = nullptr;
  bool resolves = getaddrinfo(host.c_str(), nullptr, nullptr, &found) == 0;
  if (found) freeaddrinfo(found);
  if (!resolves) {
    notes.push_back(fmt::format(
        "{}: host.docker.internal (the Docker host) does not resolve here, so it is this "
        "machine: 127.0.0.1",
        path));
    return "127.0.0.1";
  }
  return host;
}

std::string backend_name(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (!is_backend_name_char(c)) c = '-';
  return out.empty() ? "backend" : out;
}

}  // namespace dialects

std::optional<config_format> parse_config_format(std::string_view name) {
  if (name == "auto") return config_format::automatic;
  if (name == "native") return config_format::native;
  if (name == "envoy" || name == "envoy-ai-gateway") return config_format::envoy_ai_gateway;
  if (name == "archgw" || name == "plano") return config_format::archgw;
  if (name == "litellm") return config_format::litellm;
  return std::nullopt;
}

std::string_view format_name(config_format format) {
  switch (format) {
    case config_format::automatic:
      return "auto";
    case config_format::native:
      return "native";
    case config_format::envoy_ai_gateway:
      return "Envoy AI Gateway";
    case config_format::archgw:
      return "archgw";
    case config_format::litellm:
      return "LiteLLM";
  }
  return "?";
}

namespace {

config_format detect(const std::vector<YAML::Node>& documents) {
  for (const auto& d : documents)
    if (d.IsMap() && d["apiVersion"] && d["kind"]) return config_format::envoy_ai_gateway;
  if (documents.size() == 1 && documents[0].IsMap()) {
    const auto& root = documents[0];
    if (root["llm_providers"] || root["model_providers"]) return config_format::archgw;
    if (root["model_list"]) return config_format::litellm;
  }
  return config_format::native;
}

// yaml-cpp 0.7's LoadAll never returns on some malformed text (a ',' outside brackets at the
// top level): its parser hands out the same empty document, at the same place, forever, and
// LoadAll keeps every one. A first pass that builds nothing stops there (and at a bound on
// documents) before LoadAll runs.
class document_count final : public YAML::EventHandler {
 public:
  static constexpr std::size_t kMaxDocuments = 1024;
  static void check(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    document_count count;
    std::optional<int> previous;
    for (std::size_t n = 0; parser.HandleNextDocument(count); ++n) {
      if (previous == count.start_.pos)
        throw config_error(fmt::format(
            "line {}, column {}: the YAML cannot be read past this point (a ',' outside [ ] or "
            "{{ }}?)",
            count.start_.line + 1, count.start_.column + 1));
      if (n == kMaxDocuments)
        throw config_error(fmt::format("more than {} YAML documents", kMaxDocuments));
      previous = count.start_.pos;
    }
  }

 private:
  void OnDocumentStart(const YAML::Mark& mark) override { start_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  YAML::Mark start_;
};

}  // namespace

loaded_config load_config(std::string_view yaml, config_format format, const env_lookup& env) {
  // YAML is printable UTF-8 text (a control character only as an escape in a quoted
  // scalar); yaml-cpp would take other bytes through, and --print-config could not write them
  // back as they were.
  if (!simdjson::validate_utf8(yaml.data(), yaml.size()))
    throw config_error("the config is not UTF-8 text");
  // A CR only as part of a CRLF line end: yaml-cpp keeps a lone one inside a scalar.
  auto control = yaml.begin();
  for (; control != yaml.end(); ++control) {
    auto b = static_cast<unsigned char>(*control);
    bool crlf = b == '\r' && control + 1 != yaml.end() && control[1] == '\n';
    if ((b < 0x20 && b != '\t' && b != '\n' && !crlf) || b == 0x7f) break;
  }
  if (control != yaml.end())
    throw config_error(fmt::format(
        "line {}: a control character (0x{:02x}) in the config; write it as an escape in a "
        "double-quoted string",
        std::count(yaml.begin(), control, '\n') + 1, static_cast<unsigned char>(*control)));
  std::vector<YAML::Node> documents;
  try {
    std::string text(yaml);
    document_count::check(text);
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    throw config_error(
        fmt::format("line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  documents.erase(std::remove_if(documents.begin(), documents.end(),
                                 [](const YAML::Node& d) { return d.IsNull(); }),
                  documents.end());
  if (format == config_format::automatic) format = detect(documents);
  loaded_config out{.config = {}, .format = format, .warnings = {}};
  try {
    switch (format) {
      case config_format::envoy_ai_gateway:
        out.config = dialects::from_envoy_ai_gateway(documents, env, out.warnings);
        break;
      case config_format::archgw:
        if (documents.size() != 1) throw config_error("an archgw config is one YAML document");
        out.config = dialects::from_archgw(documents[0], env, out.warnings);
        break;
      case config_format::litellm:
        if (documents.size() != 1) throw config_error("a LiteLLM config is one YAML document");
        out.config = dialects::from_litellm(documents[0], env, out.warnings);
        break;
      default:
        if (documents.size() > 1) throw config_error("a native config is one YAML document");
        out.config = detail::load_native(documents.empty() ? YAML::Node() : documents[0], env);
        break;
    }
  } catch (const YAML::Exception& e) {
    throw config_error(
        fmt::format("line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  return out;
}

loaded_config load_config_file(const std::string& file, config_format format,
                               const env_lookup& env) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config_error(fmt::format("{}: cannot open the config file", file));
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return load_config(text.str(), format, env);
  } catch (const config_error& e) {
    throw config_error(fmt::format("{}: {}", file, e.what()));
  }
}

}  // namespace aigw::config
