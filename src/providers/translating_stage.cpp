#include "aigw/providers/translating_stage.hpp"

#include <boost/beast/http/field.hpp>

namespace aigw::providers {

namespace http = boost::beast::http;

void translating_stage::on_head(const http::response_header<>& head) {
  kind_ = kind::off;
  status_ = head.result_int();
  failed_ = over_ = untranslatable_ = false;
  // Buffers a large message grew are given back at the next answer; others stay warm.
  if (held_.capacity() > (256u << 10)) std::string().swap(held_);
  if (out_.capacity() > (256u << 10)) std::string().swap(out_);
  held_.clear();
  out_.clear();
  usage_.reset();
  auto type = head[http::field::content_type];
  std::string_view content_type(type.data(), type.size());
  if (status_ > 299)
    kind_ = kind::error;
  else if (status_ >= 200 && proxy::is_media_type(content_type, stream_type_))
    kind_ = kind::stream;
  else if (status_ >= 200 && proxy::is_media_type(content_type, "application/json"))
    kind_ = kind::message;
  start(head);
}

void translating_stage::on_data(std::string_view bytes) {
  switch (kind_) {
    case kind::off:
      return;
    case kind::stream:
      if (!failed_) stream_data(bytes);
      return;
    case kind::message:
    case kind::error: {
      auto bound = kind_ == kind::message ? kMaxMessage : kMaxError;
      if (held_.size() + bytes.size() > bound) {
        if (kind_ == kind::error) held_.append(bytes.substr(0, bound - held_.size()));
        over_ = true;
      }
      if (!over_) held_.append(bytes);
      return;
    }
  }
}

void translating_stage::on_end(bool complete) {
  if (!complete) return;
  switch (kind_) {
    case kind::off:
      return;
    case kind::stream:
      if (!failed_) end_stream();
      return;
    case kind::message:
      end_message(held_, over_);
      return;
    case kind::error:
      end_error(held_);
      return;
  }
}

}  // namespace aigw::providers
