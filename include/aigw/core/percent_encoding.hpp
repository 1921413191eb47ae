#pragma once
// RFC 3986 percent-encoding, as query strings and AWS's signatures use it.
#include <string>
#include <string_view>

namespace aigw {

// `text` decoded; a malformed escape is kept as it is. With `plus_is_space`, '+' is a space
// (form encoding, as query strings are written by browsers and SDKs).
std::string percent_decode(std::string_view text, bool plus_is_space);

// Appends `text` with every byte but the unreserved ones (letters, digits, - . _ ~) as %XX.
void percent_encode(std::string_view text, std::string& out);

}  // namespace aigw
