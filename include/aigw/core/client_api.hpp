#pragma once
// The API a client speaks, known from the path it called: OpenAI's (every /v1 path), or
// Anthropic's Messages API (/v1/messages and /v1/messages/count_tokens), which Claude Code
// and the Anthropic SDKs use. The gateway's own errors and error events take its shape, and
// a backend that speaks the other is translated to it.
namespace aigw {

enum class client_api { openai, anthropic };

}  // namespace aigw
