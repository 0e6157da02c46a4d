// Concurrency: every concurrent path of the server at once, then SIGTERM with all of it running.
// Written for the ThreadSanitizer stage of scripts/test.sh, which runs the integration tests
// against a TSan-built certgate-server (a report there makes the server exit 66 and fails the
// test); in the other builds it checks the same run's answers and the clean exit.
//
// At once: Authorize from several clients (allowed, denied, and refused by max_inflight: 3),
// ext_authz Check, admin writes on the certificate being authorized (hold and release) and audit
// queries, SIGHUP trust reloads (validator swap, cache drop), health Check and Watch while the
// health monitor probes the store every 10 ms.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "certgate/client.h"
#include "envoy/service/auth/v3/external_auth.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/admin_calls.h"
#include "tests/support/server_process.h"
#include "tests/support/testdata.h"

namespace certgate {
namespace {

using testing::ReadTestdata;
using testing::TestdataPath;
using v1::Rejection;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::unique_ptr<Client> Connect(const std::string& target) {
  ChannelOptions o;
  o.target = target;
  std::string err;
  auto channel = MakeChannel(o, &err);
  EXPECT_TRUE(channel) << err;
  return std::make_unique<Client>(channel, std::chrono::seconds(10));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

// Error codes seen per path, and what the answers were.
struct Tally {
  std::mutex mu;
  std::map<std::string, std::map<grpc::StatusCode, int>> errors;
  std::map<std::string, int> answers;
  std::vector<std::string> wrong;  // answers that must not happen

  void Error(const std::string& path, grpc::StatusCode code) {
    std::lock_guard<std::mutex> lock(mu);
    errors[path][code]++;
  }
  void Answer(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    answers[what]++;
  }
  void Wrong(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    wrong.push_back(what);
  }
};

TEST(Concurrency, EveryPathAtOnceThenSigterm) {
  testing::ServerProcessOptions opts;
  opts.extra_yaml = "trust:\n  ca_files: [" + TestdataPath("ca.pem") +
                    "]\n"
                    "forwarders:\n"
                    "  - {name: envoy, addresses: [127.0.0.1]}\n"
                    "max_inflight: 3\n"
                    "health_check_interval_ms: 10\n"
                    "shutdown_grace_ms: 4000\n";
  testing::ServerProcess server(opts);
  ASSERT_TRUE(server.Start());
  auto admin = Connect(server.admin_target());
  {
    ASSERT_TRUE(testing::CreateUser(*admin, "alice").ok());
    grpc::Status s = testing::EnrollDer(*admin, "alice", ReadTestdata("alice.der"));
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const std::string alice_fp = Trim(ReadTestdata("alice.fingerprint"));
  const std::string alice = ReadTestdata("alice.der");
  const std::string bob = ReadTestdata("bob.der");  // chains to the anchor, never enrolled

  std::atomic<bool> stop{false};
  Tally tally;
  std::vector<std::thread> threads;

  // Authorize: alice is allowed (or CERTIFICATE_REVOKED while on hold), bob NOT_ENROLLED.
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto client = Connect(server.target());
      for (int i = 0; !stop.load(); ++i) {
        const bool use_alice = (i + t) % 2 == 0;
        v1::AuthorizeResponse resp;
        grpc::Status s = client->Authorize(DerRequest(use_alice ? alice : bob), &resp);
        if (!s.ok()) {
          tally.Error("authorize", s.error_code());
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        if (resp.has_identity()) {
          tally.Answer("allowed");
          if (!use_alice || resp.identity().user_name() != "alice") {
            tally.Wrong("allowed " + resp.identity().user_name());
          }
        } else {
          const Rejection::Reason r = resp.rejection().reason();
          tally.Answer(Rejection::Reason_Name(r));
          if (use_alice ? r != Rejection::CERTIFICATE_REVOKED
                        : r != Rejection::CERTIFICATE_NOT_ENROLLED) {
            tally.Wrong(std::string(use_alice ? "alice " : "bob ") + Rejection::Reason_Name(r));
          }
        }
      }
    });
  }
  // ext_authz Check with Envoy's peer certificate (URL-encoded PEM).
  threads.emplace_back([&] {
    auto stub = envoy::service::auth::v3::Authorization::NewStub(
        grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials()));
    std::string pem;
    for (unsigned char c : ReadTestdata("alice.pem")) {
      static const char* kHex = "0123456789ABCDEF";
      if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        pem.push_back(static_cast<char>(c));
      } else {
        pem += {'%', kHex[c >> 4], kHex[c & 15]};
      }
    }
    envoy::service::auth::v3::CheckRequest req;
    auto* http = req.mutable_attributes()->mutable_request()->mutable_http();
    http->set_method("GET");
    http->set_path("/concurrency");
    req.mutable_attributes()->mutable_source()->set_certificate(pem);
    while (!stop.load()) {
      envoy::service::auth::v3::CheckResponse resp;
      grpc::Status s = stub->Check(Context().get(), req, &resp);
      if (s.ok()) {
        tally.Answer("check");
      } else {
        tally.Error("check", s.error_code());
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  });
  // Admin: put alice's certificate on hold and release it, and read the audit trail.
  threads.emplace_back([&] {
    while (!stop.load()) {
      v1::RevokeCertificateRequest hold;
      hold.set_fingerprint_sha256(alice_fp);
      hold.set_reason_code(6);  // certificateHold
      v1::RevokeCertificateResponse held;
      grpc::Status s = admin->admin().RevokeCertificate(admin->NewContext().get(), hold, &held);
      if (!s.ok()) {
        tally.Error("admin", s.error_code());
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      v1::ReleaseHoldRequest release;
      release.set_fingerprint_sha256(alice_fp);
      v1::Certificate released;
      s = admin->admin().ReleaseHold(admin->NewContext().get(), release, &released);
      if (!s.ok()) tally.Error("admin", s.error_code());
      v1::QueryAuditRequest q;
      q.set_limit(20);
      v1::QueryAuditResponse rows;
      s = admin->admin().QueryAudit(admin->NewContext().get(), q, &rows);
      if (!s.ok()) tally.Error("admin", s.error_code());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  // SIGHUP: reload the trust anchors (a new validator, the validation cache dropped). Stopped
  // before the SIGTERM: the server's pid is not ours to signal once it has been reaped.
  std::atomic<bool> stop_reloads{false};
  std::thread reloader([&] {
    while (!stop_reloads.load()) {
      server.Reload();
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  });
  // Health: a Watch stream open throughout, and Checks.
  auto health_channel = grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(health_channel);
  grpc::ClientContext watch_ctx;
  std::atomic<int> watch_updates{0};
  threads.emplace_back([&] {
    grpc::health::v1::HealthCheckRequest req;
    auto reader = health->Watch(&watch_ctx, req);
    grpc::health::v1::HealthCheckResponse resp;
    while (reader->Read(&resp)) ++watch_updates;
    reader->Finish();
  });
  threads.emplace_back([&] {
    while (!stop.load()) {
      grpc::health::v1::HealthCheckRequest req;
      grpc::health::v1::HealthCheckResponse resp;
      grpc::Status s = health->Check(Context().get(), req, &resp);
      if (!s.ok()) tally.Error("health", s.error_code());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop_reloads = true;
  reloader.join();
  const auto t0 = std::chrono::steady_clock::now();
  const int status = server.Stop();  // SIGTERM with everything still running
  const auto took = std::chrono::steady_clock::now() - t0;
  stop = true;
  watch_ctx.TryCancel();
  for (auto& t : threads) t.join();

  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  std::printf("SIGTERM to exit: %.2f s; watch updates %d\n",
              std::chrono::duration<double>(took).count(), watch_updates.load());
  for (const auto& [what, n] : tally.answers) std::printf("  answered %s: %d\n", what.c_str(), n);
  for (const auto& [path, codes] : tally.errors) {
    for (const auto& [code, n] : codes)
      std::printf("  %s failed with %d: %d\n", path.c_str(), code, n);
  }
  EXPECT_GT(watch_updates.load(), 0);
  EXPECT_GT(tally.answers["allowed"], 0);
  EXPECT_GT(tally.answers["CERTIFICATE_NOT_ENROLLED"], 0);
  EXPECT_GT(tally.answers["check"], 0);
  EXPECT_TRUE(tally.wrong.empty())
      << tally.wrong.size() << " wrong answers, first: " << tally.wrong.front();
  // Refused beyond max_inflight, or while shutting down; nothing else.
  for (const auto& [path, codes] : tally.errors) {
    for (const auto& [code, n] : codes) {
      const bool ok = code == grpc::StatusCode::UNAVAILABLE ||
                      code == grpc::StatusCode::CANCELLED ||
                      (code == grpc::StatusCode::RESOURCE_EXHAUSTED &&
                       (path == "authorize" || path == "check"));
      EXPECT_TRUE(ok) << path << ": " << n << " calls failed with code " << code;
    }
  }
}

}  // namespace
}  // namespace certgate
