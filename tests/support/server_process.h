// ServerProcess: runs the real certgate-server binary for integration tests, on 127.0.0.1:0
// with a temporary database and admin socket, and reads the bound port from its readiness line
// (no fixed ports, no sleeps). SIGTERM and a wait on destruction.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace certgate::testing {

// The exit status sanitizers give a process they stopped (TSan's default, and what
// scripts/test.sh sets for the sanitizer stages with halt_on_error=1). The server never exits
// with it on its own (0, 1 or 2), so ServerProcess reports it as a test failure whenever it reaps
// the server, and RunCommand when a command exits with it and printed a sanitizer report: a
// report in a child process fails the test that started it.
inline constexpr int kSanitizerExitCode = 66;

struct ServerProcessOptions {
  // Extra YAML appended to the generated config (e.g. a forwarders: block).
  std::string extra_yaml;
  // Reuse this directory (database + socket) instead of a fresh temp dir.
  std::string dir;
  // Send the server's stderr (its log) to dir()/server.log instead of the test's stderr, so a
  // test can wait for a log line (ReadLog).
  bool capture_log = false;
  // The server's log_level.
  std::string log_level = "warn";
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerProcessOptions options = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the server and waits for its readiness line. False (with ADD_FAILURE) on failure.
  bool Start();
  // SIGTERM, then waits; returns the exit status (as from waitpid), or -1.
  int Stop();
  // SIGKILL, then waits.
  void Kill();
  // (Both fail the test if the server had already exited with kSanitizerExitCode.)
  // SIGHUP (reload the trust anchors).
  void Reload();
  // The captured log so far (capture_log), else "".
  std::string ReadLog() const;

  int port() const { return port_; }
  // The mTLS TCP admin listener's port (0 when not configured).
  int admin_tcp_port() const { return admin_tcp_port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string admin_target() const { return "unix:" + admin_socket_; }
  const std::string& admin_socket() const { return admin_socket_; }
  const std::string& dir() const { return dir_; }
  const std::string& database() const { return database_; }
  const std::string& config_path() const { return config_path_; }
  pid_t pid() const { return pid_; }

 private:
  ServerProcessOptions options_;
  std::string dir_, database_, admin_socket_, config_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  int admin_tcp_port_ = 0;
};

// Runs a command (argv[0] is looked up in PATH if it has no '/'), captures stdout and stderr,
// returns the exit code (or -1 when it could not run). `stdin_data` is written to its stdin.
// A command that exits with kSanitizerExitCode after printing a sanitizer report fails the test.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_data = "");

}  // namespace certgate::testing
