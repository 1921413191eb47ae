#include "aigw/proxy/response_stage.hpp"

#include <boost/beast/core/string.hpp>

namespace aigw::proxy {

bool is_media_type(std::string_view content_type, std::string_view type) noexcept {
  return content_type.size() >= type.size() &&
         boost::beast::iequals(content_type.substr(0, type.size()), type) &&
         (content_type.size() == type.size() || content_type[type.size()] == ';' ||
          content_type[type.size()] == ' ');
}

}  // namespace aigw::proxy
