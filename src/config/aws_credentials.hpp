#pragma once
// Where a Bedrock backend's AWS credentials come from, in the order the AWS SDKs look: the
// config's `aws` keys, the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), then a profile of the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials; the profile `aws.profile`, else
// AWS_PROFILE, else "default"). Read once, when the config is loaded (a reload reads again).
#include <optional>
#include <string>
#include <string_view>

#include "aigw/config/config.hpp"
#include "aigw/config/loader.hpp"

namespace aigw::config {

// The keys of `profile` in the text of a shared credentials file (an INI file:
// "[profile]" sections of "name = value" lines; # and ; comments); nullopt when the profile
// is not there or lacks a key id or secret.
std::optional<aws_credentials> credentials_from_file(std::string_view text,
                                                     std::string_view profile);

// The credentials from the environment or the shared file (`profile` empty: AWS_PROFILE or
// "default"); throws config_error naming `path` and the places looked at when none is found.
aws_credentials default_aws_credentials(const env_lookup& env, const std::string& profile,
                                        const std::string& path);

}  // namespace aigw::config
