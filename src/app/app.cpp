#include "aigw/app/app.hpp"

#include <sys/resource.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>

#include "../server/admin.hpp"
#include "aigw/config/loader.hpp"
#include "aigw/core/access_log.hpp"
#include "aigw/core/log.hpp"
#include "aigw/json/model_extractor.hpp"
#include "aigw/metrics/prometheus.hpp"
#include "aigw/proxy/snapshot.hpp"
#include "aigw/server/worker.hpp"
#include "aigw/upstream/sigv4.hpp"
#include "version.hpp"

namespace aigw::app {
namespace {

namespace po = boost::program_options;

// Each client stream holds two descriptors (client and upstream): take all the kernel allows.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The default route's backend(s), for start-up lines.
std::string default_backends(const config::gateway& cfg) {
  std::string names;
  for (const auto& t : cfg.routes.back().targets)
    names += fmt::format("{}{}", names.empty() ? "" : ", ", t.backend);
  return names;
}

void print_startup(const proxy::snapshot& s, const tcp::endpoint& endpoint, unsigned workers) {
  const auto& cfg = s.config;
  auto address = endpoint.address().is_v6() ? fmt::format("[{}]", endpoint.address().to_string())
                                            : endpoint.address().to_string();
  for (const auto& b : cfg.backends)
    log::info("backend {} -> {}{}", b.name, b.url, b.api_key.empty() ? "" : " (api key set)");
  log::info("default route -> backend {}", default_backends(cfg));
  // Last: whoever waits for this line has seen the whole start-up report.
  log::info("aigw-proxy {} listening on {}:{} ({} worker{})", kVersion, address, endpoint.port(),
            workers, workers == 1 ? "" : "s");
}

// Where the config comes from: read at start and again on SIGHUP.
struct config_source {
  std::optional<std::string> file;  // none: the zero-config start
  config::config_format format = config::config_format::automatic;
  std::optional<std::string> listen;  // --listen
  std::string name() const { return file.value_or("(no --config)"); }
};

// The config as the source says, validated, with its warnings logged; throws config_error.
config::gateway load_config(const config_source& source) {
  config::gateway config;
  if (source.file) {
    auto loaded = config::load_config_file(*source.file, source.format);
    if (loaded.format != config::config_format::native)
      log::info("{}: read as {} config", *source.file, config::format_name(loaded.format));
    for (const auto& warning : loaded.warnings) log::warn("{}: {}", *source.file, warning);
    config = std::move(loaded.config);
  } else {
    config = config::zero_config();
  }
  if (source.listen) config::override_listen(config, *source.listen);
  config::refuse_self_loop(config);
  return config;
}

// The compiled snapshot (keeping unchanged backends' state from `previous`), with the
// warnings about what it serves.
std::shared_ptr<const proxy::snapshot> compile(config::gateway config,
                                               const proxy::snapshot* previous) {
  auto snapshot = proxy::snapshot::compile(std::move(config), previous);
  if (snapshot->affinity.mints() && snapshot->config.object_affinity_key.empty())
    for (const auto& b : snapshot->config.backends) {
      if (b.api_key.empty() && snapshot->affinity.scoped())
        log::warn(
            "object_affinity: backend \"{}\" has no api_key, so the ids it tags are keyed by "
            "a secret of this process: they do not survive a restart, nor reach another "
            "replica; set object_affinity_key",
            b.name);
      else if (b.api_key.empty())
        log::warn(
            "object_affinity: backend \"{}\" has no api_key, so the ids it tags are keyed by "
            "its name alone and a client could forge one to reach it; set object_affinity_key",
            b.name);
    }
  return snapshot;
}

// The settings a running process cannot change (sockets, threads, the process budget, the
// access log's target): a reload keeps them as they were, says so, and names each.
std::vector<std::string> keep_restart_settings(const config::gateway& running,
                                               config::gateway& next) {
  std::vector<std::string> changed;
  auto keep = [&](auto& value, const auto& old, std::string_view name) {
    if (value == old) return;
    value = old;
    if (std::find(changed.begin(), changed.end(), name) == changed.end())
      changed.emplace_back(name);
  };
  keep(next.listen_host, running.listen_host, "listen");
  keep(next.listen_port, running.listen_port, "listen");
  keep(next.workers, running.workers, "workers");
  keep(next.admin, running.admin, "admin");
  keep(next.admin_host, running.admin_host, "admin");
  keep(next.admin_port, running.admin_port, "admin");
  keep(next.access_log, running.access_log, "access_log");
  keep(next.access_log_to, running.access_log_to, "access_log");
  keep(next.access_log_json, running.access_log_json, "access_log_format");
  keep(next.limits.max_buffered_request_bytes, running.limits.max_buffered_request_bytes,
       "limits.max_buffered_request_bytes");
  keep(next.limits.max_connections, running.limits.max_connections, "limits.max_connections");
  keep(next.drain_timeout, running.drain_timeout, "drain_timeout");
  return changed;
}

// The snapshot being served, for the threads that read it outside the workers (the admin
// listener, the signal handler); a reload replaces it.
class current_snapshot {
 public:
  explicit current_snapshot(std::shared_ptr<const proxy::snapshot> s) : snapshot_(std::move(s)) {}
  std::shared_ptr<const proxy::snapshot> get() const {
    std::lock_guard lock(mutex_);
    return snapshot_;
  }
  void set(std::shared_ptr<const proxy::snapshot> s) {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(s);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const proxy::snapshot> snapshot_;
};

// SIGHUP: the config read again (whatever its dialect). A valid one serves every request
// from now on (those in flight finish on theirs); unchanged backends keep their pooled
// connections, counters and breakers. An invalid one changes nothing.
void reload(const config_source& source, current_snapshot& current,
            const std::vector<std::unique_ptr<server::worker>>& workers) {
  auto running = current.get();
  if (!source.file) {
    log::warn("SIGHUP: started without --config, nothing to read again");
    return;
  }
  try {
    auto next_config = load_config(source);
    for (const auto& name : keep_restart_settings(running->config, next_config))
      log::warn("reload: {} changed: it needs a restart (kept as it was)", name);
    auto next = compile(std::move(next_config), running.get());
    // The admin's first: its slot names then cover every slot a worker may count.
    current.set(next);
    for (const auto& w : workers) w->reload(next);
    log::info("reload: {} ({} backends, {} routes, default backend {})", source.name(),
              next->config.backends.size(), next->config.routes.size(),
              default_backends(next->config));
  } catch (const std::exception& e) {
    log::error("reload: {}: invalid config: {}; still serving the previous one", source.name(),
               e.what());
  }
}

// Every worker's counters, gathered on their own threads and merged; nullopt when a worker
// did not answer within 2 s (it is stopping).
std::optional<metrics::worker_stats> gather_stats(
    const proxy::snapshot& snapshot, const std::vector<std::unique_ptr<server::worker>>& workers) {
  std::vector<std::future<metrics::worker_stats>> parts;
  for (const auto& w : workers) parts.push_back(w->read_stats());
  metrics::worker_stats total(snapshot.routes.size(), snapshot.slot_names.size());
  for (auto& part : parts) {
    if (part.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return std::nullopt;
    total.merge(part.get());
  }
  return total;
}

// SIGUSR1: the merged counters as one log line "stats {json}".
void log_stats(const proxy::snapshot& snapshot,
               const std::vector<std::unique_ptr<server::worker>>& workers) {
  if (auto total = gather_stats(snapshot, workers))
    log::info("stats {}", total->to_json(snapshot));
  else
    log::warn("stats: a worker did not answer within 2 s");
}

// The admin listener, or nullptr when it is off or cannot listen (a warning: the gateway
// serves on without it, e.g. a second instance on one machine).
std::unique_ptr<server::admin_server> start_admin(
    const current_snapshot& current, const std::vector<std::unique_ptr<server::worker>>& workers,
    const std::atomic<bool>& draining) {
  auto snapshot = current.get();
  const auto& cfg = snapshot->config;
  if (!cfg.admin) return nullptr;
  error_code ec;
  auto address = net::ip::make_address(cfg.admin_host, ec);
  if (ec) {
    log::warn("admin: \"{}\" is not an IP address; admin endpoints off", cfg.admin_host);
    return nullptr;
  }
  server::admin_handlers handlers{
      .metrics =
          [&current, &workers] {
            auto snapshot = current.get();
            auto total = gather_stats(*snapshot, workers);
            return total ? metrics::render_prometheus(*total, *snapshot)
                         : std::string("# a worker did not answer within 2 s\n");
          },
      .config_yaml = [&current] { return config::print_native(current.get()->config, true); },
      .ready = [&draining] { return !draining.load(); }};
  try {
    auto admin = std::make_unique<server::admin_server>(tcp::endpoint(address, cfg.admin_port),
                                                        std::move(handlers));
    admin->start();
    auto at = admin->local_endpoint();
    log::info("admin on http://{}:{} (/metrics, /healthz, /readyz, /config)",
              at.address().is_v6() ? fmt::format("[{}]", at.address().to_string())
                                   : at.address().to_string(),
              at.port());
    return admin;
  } catch (const boost::system::system_error& e) {
    log::warn("admin: cannot listen on {}:{}: {}; admin endpoints off", cfg.admin_host,
              cfg.admin_port, e.code().message());
    return nullptr;
  }
}

int run(std::shared_ptr<const proxy::snapshot> snapshot, const config_source& source) {
  const auto cfg = snapshot->config;  // a copy: the settings a reload never changes
  raise_open_file_limit();
  if (cfg.access_log) {
    try {
      log::access_sink::instance().open(cfg.access_log_to);
    } catch (const std::exception& e) {
      log::error("{}", e.what());
      return 1;
    }
  }
  // Whatever way run() returns, what the access log buffered is written and its thread ends.
  struct close_access_log {
    ~close_access_log() { log::access_sink::instance().close(); }
  } closing;
  unsigned workers = cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  error_code ec;
  auto address = net::ip::make_address(cfg.listen_host, ec);
  if (ec) {
    log::error("listen: \"{}\" is not an IP address", cfg.listen_host);
    return 1;
  }
  tcp::endpoint endpoint(address, cfg.listen_port);
  server::process_budget budget(cfg.limits.max_buffered_request_bytes, cfg.limits.max_connections);
  std::vector<std::unique_ptr<server::worker>> pool;
  try {
    for (unsigned i = 0; i < workers; ++i) {
      pool.push_back(std::make_unique<server::worker>(snapshot, endpoint, budget));
      endpoint = pool.back()->local_endpoint();  // port 0 becomes the real port
    }
  } catch (const boost::system::system_error& e) {
    log::error("listen: cannot listen on {}:{}: {}", cfg.listen_host, cfg.listen_port,
               e.code().message());
    return 1;
  }
  // Signals are caught before anyone is told the port, so a SIGTERM right after start-up
  // still shuts down cleanly.
  net::io_context main_io;
  net::signal_set signals(main_io, SIGINT, SIGTERM, SIGUSR1);
  signals.add(SIGHUP);
  for (auto& w : pool) w->start();
  std::atomic<bool> draining{false};
  current_snapshot current(snapshot);
  auto admin = start_admin(current, pool, draining);
  print_startup(*snapshot, endpoint, workers);

  // SIGTERM or SIGINT: a graceful drain (workers stop accepting, /readyz says 503, requests
  // in flight finish within drain_timeout); a second one stops at once.
  std::thread drain_waiter;
  std::function<void(error_code, int)> on_signal = [&](error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGUSR1) {  // logrotate moved the access log; and a stats line
      log::access_sink::instance().reopen();
      log_stats(*current.get(), pool);
    } else if (signal == SIGHUP) {
      if (!draining) reload(source, current, pool);
    } else if (!draining) {
      log::info("signal {}: draining (stopped accepting; up to {} ms for requests in flight)",
                signal, cfg.drain_timeout.count());
      draining = true;
      for (auto& w : pool) w->drain(cfg.drain_timeout);
      drain_waiter = std::thread([&] {
        for (auto& w : pool) w->join();
        net::post(main_io, [&] { main_io.stop(); });
      });
    } else {
      log::info("signal {}: stopping now", signal);
      for (auto& w : pool) w->stop();
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  main_io.run();
  // Stopping anyway: another SIGTERM from here on must not turn a clean exit into a kill.
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  if (drain_waiter.joinable())
    drain_waiter.join();
  else
    for (auto& w : pool) w->join();
  if (admin) {
    admin->stop();
    admin->join();
  }
  log::info("stopped");
  return 0;
}

}  // namespace

// `aigw-proxy hash-key`: the SHA-256 of a client key read from standard input (one line;
// its line end is not part of the key), as `clients:` holds it. The key is never an
// argument: command lines are visible to every user of the machine.
int hash_key() {
  std::string key{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.empty() || key.find_first_of("\r\n") != std::string::npos) {
    std::cerr << "aigw-proxy hash-key: give one key on standard input, e.g.\n"
                 "  printf %s \"$KEY\" | aigw-proxy hash-key\n";
    return 2;
  }
  std::cout << upstream::sha256_hex(key) << "\n";
  return 0;
}

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc == 2 && std::string_view(argv[1]) == "hash-key") return hash_key();
  po::options_description options(
      "Usage: aigw-proxy [--config FILE] [--listen HOST:PORT] [--check]\n"
      "       aigw-proxy hash-key < key   (prints a client key's SHA-256 for `clients:`)\n"
      "Without --config: one default backend, OPENAI_BASE_URL (+ OPENAI_API_KEY) when set,\n"
      "else a local Ollama at http://127.0.0.1:11434/v1.\nOptions");
  options.add_options()("help,h", "print this help and exit")("version",
                                                              "print the version and exit")(
      "config,c", po::value<std::string>()->value_name("FILE"), "the gateway's YAML config")(
      "listen,l", po::value<std::string>()->value_name("HOST:PORT"),
      "listen here instead of the config's address (port 0: any free port)")(
      "check", "validate the config, print what it would serve, and exit 0 (valid) or 1")(
      "config-format", po::value<std::string>()->value_name("FORMAT"),
      "auto (default), native, envoy, archgw or litellm")(
      "print-config", "print the config as native YAML (secrets redacted) and exit");
  po::variables_map args;
  try {
    po::store(po::parse_command_line(argc, argv, options), args);
    po::notify(args);
  } catch (const po::error& e) {
    std::cerr << "aigw-proxy: " << e.what() << "\n" << options << "\n";
    return 2;
  }
  if (args.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (args.count("version")) {
    std::cout << "aigw-proxy " << kVersion << "\n";
    return 0;
  }
  if (!json::simd_supported()) {
    std::cerr << "aigw-proxy: this binary's JSON scanner was built for " << json::simd_kernel_name()
              << ", which this CPU lacks; rebuild with `meson configure -Djson_simd=generic`\n";
    return 1;
  }
  config_source source;
  if (args.count("config")) source.file = args["config"].as<std::string>();
  if (args.count("listen")) source.listen = args["listen"].as<std::string>();
  std::string file = source.name();
  std::shared_ptr<const proxy::snapshot> snapshot;
  try {
    if (args.count("config-format")) {
      auto name = args["config-format"].as<std::string>();
      auto parsed = config::parse_config_format(name);
      if (!parsed)
        throw config::config_error(fmt::format(
            "--config-format: \"{}\" is not one of auto, native, envoy, archgw, litellm", name));
      source.format = *parsed;
    }
    auto config = load_config(source);
    if (!source.file)
      log::info("no --config: {} as the default backend",
                config.backends[0].name == "openai" ? "OPENAI_BASE_URL" : "a local Ollama");
    snapshot = compile(std::move(config), nullptr);
  } catch (const config::config_error& e) {
    std::cerr << "aigw-proxy: invalid config: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    // A shape no check above anticipated must still be a clear error, never a crash.
    std::cerr << "aigw-proxy: invalid config: " << e.what() << "\n";
    return 1;
  }
  if (args.count("print-config")) {
    std::cout << config::print_native(snapshot->config);
    return 0;
  }
  if (args.count("check")) {
    std::cout << fmt::format("{}: ok ({} backends, {} routes, default backend {})\n", file,
                             snapshot->config.backends.size(), snapshot->config.routes.size(),
                             default_backends(snapshot->config));
    return 0;
  }
  return run(std::move(snapshot), source);
}

}  // namespace aigw::app
