#include "aws_credentials.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace aigw::config {
namespace {

std::string_view trim(std::string_view s) {
  auto begin = s.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  auto end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end + 1 - begin);
}

}  // namespace

std::optional<aws_credentials> credentials_from_file(std::string_view text,
                                                     std::string_view profile) {
  aws_credentials found;
  found.from = aws_credentials::origin::file;
  bool in_profile = false;
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      auto name = trim(line.substr(1, line.size() - 2));
      // The config file's "[profile name]" spelling is accepted too.
      if (name.starts_with("profile ")) name = trim(name.substr(8));
      in_profile = name == profile;
      continue;
    }
    if (!in_profile) continue;
    auto equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    auto key = trim(line.substr(0, equals));
    auto value = std::string(trim(line.substr(equals + 1)));
    if (key == "aws_access_key_id")
      found.access_key_id = value;
    else if (key == "aws_secret_access_key")
      found.secret_access_key = value;
    else if (key == "aws_session_token")
      found.session_token = value;
  }
  if (found.access_key_id.empty() || found.secret_access_key.empty()) return std::nullopt;
  return found;
}

aws_credentials default_aws_credentials(const env_lookup& env, const std::string& profile,
                                        const std::string& path) {
  auto id = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (profile.empty() && id && secret && !id->empty() && !secret->empty()) {
    aws_credentials c;
    c.from = aws_credentials::origin::environment;
    c.access_key_id = *id;
    c.secret_access_key = *secret;
    c.session_token = env("AWS_SESSION_TOKEN").value_or("");
    return c;
  }
  std::string file;
  if (auto named = env("AWS_SHARED_CREDENTIALS_FILE"); named && !named->empty())
    file = *named;
  else if (auto home = env("HOME"); home && !home->empty())
    file = *home + "/.aws/credentials";
  auto name = !profile.empty() ? profile : env("AWS_PROFILE").value_or("default");
  if (!file.empty()) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    if (in) {
      if (auto found = credentials_from_file(text.str(), name)) {
        found->profile = profile;
        return *found;
      }
    }
  }
  throw config_error(fmt::format(
      "{}: no AWS credentials: give aws.access_key_id and aws.secret_access_key, or set "
      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put profile \"{}\" in {}",
      path, name, file.empty() ? "~/.aws/credentials" : file));
}

}  // namespace aigw::config
