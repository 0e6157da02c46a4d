#include "tests/support/server_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/support/testdata.h"

namespace certgate::testing {

namespace {
// A sanitizer stopped the server (halt_on_error): fail the test, with the report when the log was
// captured (otherwise the report went to the test's own stderr, which ctest shows).
void CheckSanitizerExit(int status, const std::string& log) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == kSanitizerExitCode) {
    ADD_FAILURE() << "certgate-server exited with " << kSanitizerExitCode
                  << ", the sanitizer exit code: a sanitizer report (above, or in its log):\n"
                  << log.substr(log.size() > 20000 ? log.size() - 20000 : 0);
  }
}
}  // namespace

ServerProcess::ServerProcess(ServerProcessOptions options) : options_(std::move(options)) {
  dir_ = options_.dir.empty() ? MakeTempDir() : options_.dir;
  database_ = dir_ + "/certgate.db";
  admin_socket_ = dir_ + "/admin.sock";
  config_path_ = dir_ + "/certgate.yaml";
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop();
}

bool ServerProcess::Start() {
  {
    std::ofstream cfg(config_path_);
    cfg << "listen: 127.0.0.1:0\n"
        << "database: " << database_ << "\n"
        << "admin_socket: " << admin_socket_ << "\n"
        << "log_level: " << options_.log_level << "\n"
        << options_.extra_yaml << "\n";
  }
  std::string bin = Env("CERTGATE_SERVER_BIN");
  if (bin.empty()) {
    ADD_FAILURE() << "CERTGATE_SERVER_BIN is not set";
    return false;
  }
  int out[2];
  if (pipe(out) != 0) return false;
  pid_ = fork();
  const std::string log_path = dir_ + "/server.log";
  if (pid_ == 0) {
    if (options_.capture_log) {
      int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (log >= 0) dup2(log, STDERR_FILENO);
    }
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(bin.c_str(), bin.c_str(), "--config", config_path_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  // Read until the readiness line (or EOF/timeout).
  std::string buf;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char tmp[512];
    ssize_t n = read(out[0], tmp, sizeof tmp);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
    size_t at = buf.find("listen=");
    size_t nl = buf.find('\n', at == std::string::npos ? 0 : at);
    if (at != std::string::npos && nl != std::string::npos) {
      std::string addr = buf.substr(at + 7, buf.find(' ', at) - (at + 7));
      port_ = std::stoi(addr.substr(addr.rfind(':') + 1));
      size_t tcp = buf.find("admin_tcp_port=", at);
      if (tcp != std::string::npos && tcp < nl) admin_tcp_port_ = std::stoi(buf.substr(tcp + 15));
      break;
    }
  }
  // Keep draining stdout in the background is unnecessary: the server prints only this line.
  close(out[0]);
  if (port_ == 0) {
    ADD_FAILURE() << "server did not become ready; output: " << buf;
    Kill();
    return false;
  }
  return true;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  CheckSanitizerExit(status, ReadLog());
  return status;
}

void ServerProcess::Reload() {
  if (pid_ > 0) kill(pid_, SIGHUP);
}

std::string ServerProcess::ReadLog() const {
  if (!options_.capture_log) return "";
  std::ifstream in(dir_ + "/server.log", std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  CheckSanitizerExit(status, ReadLog());
}

namespace {
std::string Drain(int fd) {
  std::string s;
  char tmp[4096];
  ssize_t n;
  while ((n = read(fd, tmp, sizeof tmp)) > 0) s.append(tmp, static_cast<size_t>(n));
  return s;
}
}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_data) {
  CommandResult r;
  std::string out_path = MakeTempDir();
  std::string out_file = out_path + "/out", err_file = out_path + "/err",
              in_file = out_path + "/in";
  {
    std::ofstream in(in_file, std::ios::binary);
    in << stdin_data;
  }
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(in_file.c_str(), O_RDONLY);
    int o = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  int o = open(out_file.c_str(), O_RDONLY);
  int e = open(err_file.c_str(), O_RDONLY);
  r.out = Drain(o);
  r.err = Drain(e);
  close(o);
  close(e);
  unlink(out_file.c_str());
  unlink(err_file.c_str());
  unlink(in_file.c_str());
  rmdir(out_path.c_str());
  if (r.exit_code == kSanitizerExitCode && r.err.find("Sanitizer") != std::string::npos) {
    ADD_FAILURE() << argv[0] << " exited with " << kSanitizerExitCode
                  << ", the sanitizer exit code:\n"
                  << r.err;
  }
  return r;
}

}  // namespace certgate::testing
