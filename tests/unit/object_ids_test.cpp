// Object affinity: ids minted for a backend, read back, refused when forged; the ids found in
// responses; the response stage that tags them.
#include <doctest/doctest.h>

#include <string>

#include <boost/beast/http/message.hpp>

#include "aigw/config/loader.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/json/object_scan.hpp"
#include "aigw/proxy/object_id_stage.hpp"
#include "aigw/proxy/object_ids.hpp"

namespace {

using aigw::proxy::object_ids;

std::optional<std::string> no_env(std::string_view) {
  return std::nullopt;
}

aigw::config::gateway two_backends(std::string extra = "") {
  return aigw::config::load_from_string(extra + R"(
backends:
  - name: east
    url: http://127.0.0.1:1/v1
    api_key: key-east
  - name: west
    url: http://127.0.0.1:2/v1
routes:
  - backend: east
)",
                                        no_env);
}

std::string minted(const object_ids& ids, std::string_view id, std::size_t backend) {
  std::string out;
  ids.mint(id, backend, out);
  return out;
}

}  // namespace

TEST_CASE("a minted id names its backend, and only a genuine tag does") {
  object_ids ids(two_backends());
  REQUIRE(ids.mints());
  auto east = minted(ids, "resp_abc123", 0);
  auto west = minted(ids, "resp_abc123", 1);
  CHECK(east.starts_with("resp_abc123~"));
  CHECK(east.size() == std::string("resp_abc123").size() + aigw::kObjectTagSize);
  CHECK(east != west);
  auto d = ids.decode(east);
  REQUIRE(d);
  CHECK(d->id == "resp_abc123");
  CHECK(d->backend == 0);
  CHECK(ids.decode(west)->backend == 1);

  // Forged: another id under the same tag, a changed MAC, a foreign tag-shaped suffix.
  CHECK_FALSE(ids.decode("resp_other" + east.substr(11)));
  auto flipped = east;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  CHECK_FALSE(ids.decode(flipped));
  CHECK_FALSE(ids.decode("resp_abc123~0123456789abcdef01234567"));
  CHECK_FALSE(ids.decode("resp_abc123"));
}

TEST_CASE("ids survive a reload that keeps the backend; another key or name does not read them") {
  object_ids before(two_backends());
  auto id = minted(before, "file-1", 1);
  // Same config again (a reload): still read, by name.
  CHECK(object_ids(two_backends()).decode(id)->backend == 1);
  // A configured key replaces the derived one: old ids are foreign.
  object_ids keyed(two_backends("object_affinity_key: 0123456789abcdef0123\n"));
  CHECK_FALSE(keyed.decode(id));
  CHECK(keyed.decode(minted(keyed, "file-1", 1))->backend == 1);
}

TEST_CASE("one backend mints nothing but still reads the ids kept from a larger config") {
  object_ids off(two_backends("object_affinity: false\n"));
  CHECK_FALSE(off.mints());
  object_ids both(two_backends());
  auto id = minted(both, "resp_1", 0);
  CHECK_FALSE(off.decode(id));
  // Scaled down to east alone: new ids are plain, old ones still lose their tags.
  auto one = aigw::config::load_from_string(
      "backends:\n  - name: east\n    url: http://127.0.0.1:1/v1\n    api_key: key-east\n", no_env);
  object_ids lone(one);
  CHECK_FALSE(lone.mints());
  REQUIRE(lone.decode(id));
  CHECK(lone.decode(id)->id == "resp_1");
}

TEST_CASE("a request's tagged ids are restored in the path and the body, and pick the backend") {
  object_ids ids(two_backends());
  auto resp = minted(ids, "resp_1", 1);
  auto file = minted(ids, "file-9", 0);
  object_ids::request_ids found;
  ids.restore("/responses/" + resp + "/input_items", "?limit=2&after=" + file, "", {}, found);
  REQUIRE(found.backend);
  CHECK(*found.backend == 1);  // the path first
  CHECK(found.rest == "/responses/resp_1/input_items");
  CHECK(found.query == "?limit=2&after=file-9");
  CHECK(found.body.empty());

  std::string body =
      R"({"model":"m","previous_response_id":")" + resp +
      R"(","input":[{"type":"input_file","file_id":")" + file +
      R"("},{"file_id":"foreign~0123456789abcdef01234567"}],"conversation":{"id":")" + resp +
      R"("}})";
  aigw::json::request_fields fields;
  REQUIRE(aigw::json::extract_request_fields(body, fields) == aigw::errc::ok);
  CHECK(fields.tagged_ids.size() == 4);
  CHECK(fields.has_previous_response);
  found = {};
  ids.restore("/responses", "", body, fields.tagged_ids, found);
  REQUIRE(found.backend);
  CHECK(*found.backend == 1);  // the first genuine id in the body
  CHECK(found.rest.empty());
  CHECK(
      found.body ==
      R"({"model":"m","previous_response_id":"resp_1","input":[{"type":"input_file","file_id":"file-9"},{"file_id":"foreign~0123456789abcdef01234567"}],"conversation":{"id":"resp_1"}})");
}

TEST_CASE("with client keys, a tag reads as genuine for its owner alone; shared is everyone's") {
  auto keys = std::string("clients:\n  - name: alice\n    key_sha256: " + std::string(64, 'a') +
                          "\n  - name: bob\n    key_sha256: " + std::string(64, 'b') + "\n");
  auto one = aigw::config::load_from_string(
      keys + "backends:\n  - name: east\n    url: http://127.0.0.1:1/v1\n    api_key: k\n", no_env);
  object_ids ids(one);
  CHECK(ids.scoped());
  CHECK(ids.mints());  // one backend too: the tag names the owner
  std::string alices;
  ids.mint("file-1", 0, alices, "alice");
  REQUIRE(ids.decode(alices, "alice"));
  CHECK_FALSE(ids.decode(alices, "bob"));
  CHECK_FALSE(ids.decode(alices));

  // A request names objects by its owner's tags only: another's tag, a raw id in the path
  // or in a body reference field, and a forged tag are foreign; API words are not.
  auto foreign = [&](std::string_view rest, std::string body, std::string_view owner) {
    aigw::json::request_fields fields;
    REQUIRE(aigw::json::extract_request_fields(body, fields) == aigw::errc::ok);
    object_ids::request_ids found;
    ids.restore(rest, "", body, fields.tagged_ids, found, owner, fields.untagged_references);
    return found.foreign;
  };
  CHECK_FALSE(foreign("/files/" + alices + "/content", "{}", "alice"));
  CHECK(foreign("/files/" + alices + "/content", "{}", "bob"));
  CHECK(foreign("/files/file-1/content", "{}", "alice"));
  CHECK(foreign("/files/file-1~0123456789abcdef01234567", "{}", "alice"));
  CHECK_FALSE(foreign("/chat/completions", R"({"model":"m"})", "bob"));
  CHECK(foreign("/responses", R"({"previous_response_id":"resp_raw"})", "bob"));
  CHECK(foreign("/batches", R"({"input_file_id":")" + alices + R"("})", "bob"));
  CHECK_FALSE(foreign("/batches", R"({"input_file_id":")" + alices + R"("})", "alice"));
  // What metadata holds is the client's own text, never a reference.
  CHECK_FALSE(foreign("/chat/completions", R"({"metadata":{"file_id":"file-1"}})", "bob"));

  object_ids shared(aigw::config::load_from_string(
      keys + "object_affinity: shared\nbackends:\n  - name: east\n    url: http://x:1/v1\n",
      no_env));
  CHECK_FALSE(shared.scoped());
  CHECK_FALSE(shared.mints());
}

TEST_CASE("with client keys, a keyless backend's tags are not keyed by its name alone") {
  auto keys = "clients:\n  - name: alice\n    key_sha256: " + std::string(64, 'a') + "\n";
  // Unscoped, the tag of a keyless backend is computable from the config (its name).
  object_ids open(two_backends());
  object_ids scoped(two_backends(keys));
  std::string forged;
  open.mint("file-1", 1, forged);
  CHECK(open.decode(forged));
  CHECK_FALSE(scoped.decode(forged, "alice"));
  CHECK_FALSE(scoped.decode(forged));
  std::string genuine;
  scoped.mint("file-1", 1, genuine, "alice");
  CHECK(scoped.decode(genuine, "alice")->backend == 1);
}

TEST_CASE("a file_id in metadata is the client's text: it steers nothing") {
  std::string body = R"({"model":"m","metadata":{"file_id":"file-9~0123456789abcdef01234567",)"
                     R"("nested":{"previous_response_id":"x~0123456789abcdef01234567"}}})";
  aigw::json::request_fields fields;
  REQUIRE(aigw::json::extract_request_fields(body, fields) == aigw::errc::ok);
  CHECK(fields.tagged_ids.empty());
  CHECK_FALSE(fields.untagged_references);
}

TEST_CASE("an id quoted anywhere but a field that names a stored object chooses nothing") {
  object_ids ids(two_backends());
  auto resp = minted(ids, "resp_1", 1);
  std::string body = R"({"model":"m","input":")" + resp + R"(","metadata":{"note":")" + resp +
                     R"("},"id":")" + resp + R"(","tools":[{"id":")" + resp + R"("}]})";
  aigw::json::request_fields fields;
  REQUIRE(aigw::json::extract_request_fields(body, fields) == aigw::errc::ok);
  CHECK(fields.tagged_ids.empty());
  object_ids::request_ids found;
  ids.restore("/responses", "", body, fields.tagged_ids, found);
  CHECK_FALSE(found.backend);
  CHECK(found.body.empty());
}

TEST_CASE("the ids of stored objects are found in a response, nothing else") {
  std::string body = R"({"object":"list","data":[
    {"id":"resp_1","object":"response","previous_response_id":"resp_0",
     "output":[{"id":"msg_1","type":"message"}],"conversation":{"id":"conv_1"}},
    {"id":"chatcmpl-2","object":"chat.completion"},
    {"id":"batch_3","object":"batch","input_file_id":"file-4","output_file_id":null}],
    "first_id":"resp_1"})";
  body.reserve(body.size() + aigw::json::parse_padding);
  static constexpr std::string_view types[] = {"response", "batch", "chat.completion"};
  std::vector<std::pair<std::size_t, std::size_t>> found;
  REQUIRE(aigw::json::find_object_ids(body, types, found));
  std::vector<std::string> ids;
  for (auto [open, close] : found) ids.push_back(body.substr(open + 1, close - open - 1));
  CHECK(ids == std::vector<std::string>{"resp_1", "resp_0", "conv_1", "chatcmpl-2", "batch_3",
                                        "file-4", "resp_1"});  // the last: the page's first_id
  std::string broken = R"({"id":"resp_1","object":"response")";
  broken.reserve(broken.size() + aigw::json::parse_padding);
  CHECK_FALSE(aigw::json::find_object_ids(broken, types, found));
  CHECK(found.empty());
}

namespace {

// Runs `pieces` through the stage as the relay would, for a response of `content_type`.
std::string staged(aigw::proxy::object_id_stage& stage, const std::string& content_type,
                   std::vector<std::string> pieces, unsigned status = 200) {
  boost::beast::http::response_header<> head;
  head.result(status);
  head.set(boost::beast::http::field::content_type, content_type);
  stage.on_head(head);
  std::string sent;
  auto* out = stage.output();
  for (auto& p : pieces) {
    stage.on_data(p);
    if (out) sent += *out, out->clear();
  }
  stage.on_end(true);
  if (out) sent += *out, out->clear();
  return out ? sent : std::string("(declined)");
}

}  // namespace

TEST_CASE("the stage tags ids in JSON bodies and in SSE data lines split anywhere") {
  object_ids ids(two_backends());
  aigw::proxy::object_id_stage stage;
  stage.prepare(ids, 1);
  auto tag = minted(ids, "resp_1", 1).substr(6);

  auto json = staged(stage, "application/json", {R"({"id":"resp)", R"(_1","object":"response"})"});
  CHECK(json == R"({"id":"resp_1)" + tag + R"(","object":"response"})");

  auto sse = staged(
      stage, "text/event-stream; charset=utf-8",
      {"event: response.created\r\ndata: {\"type\":\"response.created\",\"resp",
       "onse\":{\"id\":\"resp_1\",\"object\":\"response\"}}\r\n\r\n: ping\n\ndata: [DONE]\n\n"});
  CHECK(sse ==
        "event: response.created\r\ndata: "
        "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_1" +
            tag + "\",\"object\":\"response\"}}\r\n\r\n: ping\n\ndata: [DONE]\n\n");

  // Not for it: error statuses, other content types; invalid JSON passes unchanged.
  CHECK(staged(stage, "application/json", {R"({"id":"resp_1","object":"response"})"}, 404) ==
        "(declined)");
  CHECK(staged(stage, "application/octet-stream", {"bytes"}) == "(declined)");
  CHECK(staged(stage, "application/jsonl", {R"({"id":"resp_1","object":"response"})"}) ==
        "(declined)");
  // Past the bound, a body is relayed as it came.
  std::string big = R"({"id":"resp_1","object":"response","pad":")" +
                    std::string(aigw::proxy::object_id_stage::kMaxHeld, 'x') + R"("})";
  CHECK(staged(stage, "application/json", {big.substr(0, 1000), big.substr(1000)}) == big);
  CHECK(staged(stage, "application/json", {R"({"id":"resp_1",)"}) == R"({"id":"resp_1",)");
}

TEST_CASE("stored objects are looked for on every path but the stateless inference ones") {
  using aigw::proxy::returns_stored_objects;
  CHECK(returns_stored_objects("/responses", "POST", false));
  CHECK(returns_stored_objects("/files/file-1", "GET", false));
  CHECK(returns_stored_objects("/conversations", "POST", false));
  CHECK(returns_stored_objects("/chat/completions/chatcmpl-1", "GET", false));
  CHECK(returns_stored_objects("/chat/completions", "GET", false));  // the stored ones, listed
  CHECK(returns_stored_objects("/chat/completions", "POST", true));
  CHECK_FALSE(returns_stored_objects("/chat/completions", "POST", false));
  CHECK_FALSE(returns_stored_objects("/files/file-1/content", "GET", false));  // user data
  CHECK_FALSE(returns_stored_objects("/realtime", "GET", false));
  CHECK_FALSE(returns_stored_objects("/embeddings", "POST", false));
  CHECK_FALSE(returns_stored_objects("/audio/speech", "POST", false));
  CHECK_FALSE(returns_stored_objects("/images/generations", "POST", false));
}
