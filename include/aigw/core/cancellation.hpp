#pragma once
// Data-plane coroutines run with throw_if_cancelled(false): errors are values, never
// exceptions. Then a cancellation that arrives between two operations, when no operation is
// pending to receive it, is only recorded in the coroutine's state; a step must check it
// before starting its next operation, or that operation would wait on regardless.
#include <boost/asio/this_coro.hpp>

#include "aigw/core/asio.hpp"

namespace aigw {

inline awaitable<bool> cancelled() {
  auto state = co_await net::this_coro::cancellation_state;
  co_return state.cancelled() != net::cancellation_type::none;
}

}  // namespace aigw
