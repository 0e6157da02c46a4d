// certgate-server: parse config, wire objects, run. Everything else lives in server/*/.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "server/api/server.h"
#include "server/common/clock.h"
#include "server/config/config.h"

int main(int argc, char** argv) {
  CLI::App app{"certgate-server: authenticates callers by their TLS client certificate"};
  std::string config_path, listen, database, log_level, admin_socket;
  app.add_option("-c,--config", config_path, "YAML config file");
  app.add_option("--listen", listen, "authorization listener host:port (port 0 = any)");
  app.add_option("--db", database, "SQLite database file");
  app.add_option("--admin-socket", admin_socket, "admin API unix socket path");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off");
  CLI11_PARSE(app, argc, argv);

  certgate::config::Config cfg;
  if (!config_path.empty()) {
    auto loaded = certgate::config::LoadConfigFile(config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "certgate-server: %s\n", loaded.status().message().c_str());
      return 2;
    }
    cfg = std::move(*loaded);
  }
  if (!listen.empty()) cfg.listen = listen;
  if (!database.empty()) cfg.database = database;
  if (!admin_socket.empty()) cfg.admin_socket = admin_socket;
  if (!log_level.empty()) cfg.log_level = log_level;
  if (auto s = certgate::config::Validate(cfg); !s.ok()) {
    std::fprintf(stderr, "certgate-server: invalid config: %s\n", s.message().c_str());
    return 2;
  }

  // Block the shutdown and reload signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = certgate::api::Server::Start(cfg, certgate::SystemClock::Instance());
  if (!server.ok()) {
    std::fprintf(stderr, "certgate-server: cannot start: %s\n", server.status().ToString().c_str());
    return 1;
  }
  // Machine-readable readiness line (tests read the bound port from it).
  const std::string host = cfg.listen.substr(0, cfg.listen.rfind(':'));
  std::printf("certgate-server ready: listen=%s:%d admin=%s admin_tcp_port=%d\n", host.c_str(),
              (*server)->port(), (*server)->admin_socket().c_str(), (*server)->admin_tcp_port());
  std::fflush(stdout);

  // SIGHUP reloads the trust anchors: the `trust:` section of the config file as it is now (other
  // settings need a restart), or the same files when there is no config file.
  std::thread waiter([&] {
    while (true) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig != SIGHUP) break;
      certgate::config::TrustConfig trust = cfg.trust;
      if (!config_path.empty()) {
        auto reread = certgate::config::LoadConfigFile(config_path);
        certgate::Status valid =
            reread.ok() ? certgate::config::Validate(*reread) : reread.status();
        if (!valid.ok()) {
          std::fprintf(stderr, "certgate-server: SIGHUP: keeping the current trust anchors: %s\n",
                       valid.message().c_str());
          continue;
        }
        trust = reread->trust;
      }
      (void)(*server)->ReloadTrust(trust);  // logs the outcome; a failure keeps the old anchors
    }
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  return 0;
}
