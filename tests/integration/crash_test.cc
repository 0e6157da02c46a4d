// Crash consistency: several clients call Authorize while the server is killed with SIGKILL at a
// random moment; after a restart on the same database, every request that got an answer must
// have its audit row (by request id) and the database must pass PRAGMA integrity_check.
//
// CERTGATE_CRASH_ITERATIONS sets the number of kill/restart rounds (default 3 in CI;
// bench/crashloop.sh runs many).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "certgate/client.h"
#include "tests/support/server_process.h"
#include "tests/support/testdata.h"

namespace certgate {
namespace {

using testing::ReadTestdata;

std::unique_ptr<Client> Connect(const std::string& target) {
  ChannelOptions o;
  o.target = target;
  std::string err;
  return std::make_unique<Client>(MakeChannel(o, &err), std::chrono::seconds(2));
}

// Every request id with an audit row, paging through the whole trail newest first.
std::set<std::string> AuditedRequestIds(Client& admin) {
  std::set<std::string> ids;
  int64_t before = 0;  // 0: start at the newest row
  while (true) {
    v1::QueryAuditRequest q;
    q.set_before_id(before);
    q.set_limit(1000);
    v1::QueryAuditResponse resp;
    grpc::Status s;
    // A connection left from before a restart can fail once (UNAVAILABLE); retry briefly.
    for (int attempt = 0; attempt < 5; ++attempt) {
      resp.Clear();
      auto ctx = admin.NewContext();
      ctx->set_wait_for_ready(true);
      s = admin.admin().QueryAudit(ctx.get(), q, &resp);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    }
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || resp.events_size() == 0) break;
    for (const auto& e : resp.events()) {
      if (!e.request_id().empty()) ids.insert(e.request_id());
      before = e.id();  // rows come newest first: the last one is the oldest so far
    }
  }
  return ids;
}

TEST(CrashConsistency, EveryAnsweredRequestHasItsAuditRowAfterSigkill) {
  int iterations = 3;
  if (std::string v = testing::Env("CERTGATE_CRASH_ITERATIONS"); !v.empty())
    iterations = std::stoi(v);
  const std::string dir = testing::MakeTempDir();
  const std::string alice = ReadTestdata("alice.der");
  const std::string bob = ReadTestdata("bob.der");
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> answered;  // across all rounds
  size_t total_answered = 0;

  for (int round = 0; round < iterations; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    testing::ServerProcessOptions opts;
    opts.dir = dir;
    testing::ServerProcess server(opts);
    ASSERT_TRUE(server.Start());
    if (round == 0) {
      auto admin = Connect(server.admin_target());
      v1::CreateUserRequest cu;
      cu.set_name("alice");
      v1::User u;
      auto c1 = admin->NewContext();
      ASSERT_TRUE(admin->admin().CreateUser(c1.get(), cu, &u).ok());
      v1::EnrollCertificateRequest en;
      en.set_user_name("alice");
      en.set_certificate_der(alice);
      v1::Certificate cert;
      auto c2 = admin->NewContext();
      ASSERT_TRUE(admin->admin().EnrollCertificate(c2.get(), en, &cert).ok());
    }

    std::mutex mu;
    std::vector<std::string> round_answered;  // guarded by mu
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&, t] {
        auto client = Connect(server.target());
        for (int i = 0; !stop.load(); ++i) {
          v1::AuthorizeRequest req = DerRequest(i % 2 ? bob : alice);
          std::string rid =
              "r" + std::to_string(round) + "-t" + std::to_string(t) + "-" + std::to_string(i);
          req.set_request_id(rid);
          v1::AuthorizeResponse resp;
          grpc::Status s = client->Authorize(req, &resp);
          if (s.ok()) {
            EXPECT_EQ(resp.request_id(), rid);
            EXPECT_EQ(resp.has_identity(), i % 2 == 0) << "alice allowed, bob denied";
            std::lock_guard<std::mutex> lock(mu);
            round_answered.push_back(rid);
          } else if (s.error_code() != grpc::StatusCode::UNAVAILABLE) {
            ADD_FAILURE() << "unexpected error " << s.error_code() << ": " << s.error_message();
          }
          if (s.error_code() == grpc::StatusCode::UNAVAILABLE) break;  // the server is gone
        }
      });
    }
    // Let load build up (at least one answer, however slow a sanitizer build is to start), then
    // kill at a random moment.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < give_up) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!round_answered.empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 350));
    server.Kill();
    stop = true;
    for (auto& c : clients) c.join();
    {
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_GT(round_answered.size(), 0u) << "no request was answered before the kill";
      answered.insert(round_answered.begin(), round_answered.end());
      total_answered += round_answered.size();
    }

    // Restart on the same database and check.
    testing::ServerProcess again(opts);
    ASSERT_TRUE(again.Start());
    auto admin = Connect(again.admin_target());
    std::set<std::string> audited = AuditedRequestIds(*admin);
    size_t missing = 0;
    for (const auto& rid : answered) {
      if (!audited.count(rid)) {
        if (++missing <= 5) ADD_FAILURE() << "answered request " << rid << " has no audit row";
      }
    }
    EXPECT_EQ(missing, 0u) << "answered requests without an audit row (of " << answered.size()
                           << ")";
    again.Stop();
    testing::CommandResult ic =
        testing::RunCommand({"sqlite3", again.database(), "PRAGMA integrity_check;"});
    EXPECT_EQ(ic.exit_code, 0) << ic.err;
    EXPECT_EQ(ic.out, "ok\n");
  }
  std::printf("crash consistency: %d rounds, %zu answered requests, all audited\n", iterations,
              total_answered);
}

}  // namespace
}  // namespace certgate

namespace certgate {
namespace {

struct LoadResult {
  std::vector<std::string> answered;
  std::map<grpc::StatusCode, int> errors;
};

// Runs `threads` clients against `target` until `stop`, recording answered request ids and
// error codes.
void RunLoad(const std::string& target, int threads, const std::string& der, const std::string& tag,
             std::atomic<bool>& stop, LoadResult& out, std::mutex& mu) {
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      auto client = Connect(target);
      for (int i = 0; !stop.load(); ++i) {
        v1::AuthorizeRequest req = DerRequest(der);
        std::string rid = tag + "-t" + std::to_string(t) + "-" + std::to_string(i);
        req.set_request_id(rid);
        v1::AuthorizeResponse resp;
        grpc::Status s = client->Authorize(req, &resp);
        std::lock_guard<std::mutex> lock(mu);
        if (s.ok()) {
          out.answered.push_back(rid);
        } else {
          out.errors[s.error_code()]++;
          if (s.error_code() == grpc::StatusCode::UNAVAILABLE) break;
        }
      }
    });
  }
  for (auto& c : clients) c.join();
}

TEST(GracefulShutdown, SigtermLetsInFlightCallsFinishFlushesAuditAndExitsZeroQuickly) {
  const std::string dir = testing::MakeTempDir();
  testing::ServerProcessOptions opts;
  opts.dir = dir;
  opts.extra_yaml = "shutdown_grace_ms: 4000\n";
  testing::ServerProcess server(opts);
  ASSERT_TRUE(server.Start());
  // An idle admin channel stays open across the shutdown, as a proxy's would.
  auto idle = Connect(server.admin_target());
  v1::ListUsersResponse users;
  auto ctx = idle->NewContext();
  ASSERT_TRUE(idle->admin().ListUsers(ctx.get(), {}, &users).ok());

  std::atomic<bool> stop{false};
  std::mutex mu;
  LoadResult load;
  std::thread driver(
      [&] { RunLoad(server.target(), 4, ReadTestdata("bob.der"), "g", stop, load, mu); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto t0 = std::chrono::steady_clock::now();
  int status = server.Stop();  // SIGTERM and wait
  const auto took = std::chrono::steady_clock::now() - t0;
  stop = true;
  driver.join();
  idle.reset();

  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_LT(took, std::chrono::milliseconds(2000)) << "no waiting out the grace period when idle";
  ASSERT_GT(load.answered.size(), 0u);
  // Calls that arrive while draining are refused: UNAVAILABLE from certgate, or CANCELLED for
  // a stream gRPC resets while the listener closes. Either way an error, never an answer.
  for (const auto& [code, n] : load.errors) {
    EXPECT_TRUE(code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::CANCELLED)
        << n << " calls failed with code " << code;
  }
  // Every answered call's audit row is in the database after the restart.
  testing::ServerProcess again(opts);
  ASSERT_TRUE(again.Start());
  std::set<std::string> audited = AuditedRequestIds(*Connect(again.admin_target()));
  size_t missing = 0;
  for (const auto& rid : load.answered) missing += audited.count(rid) ? 0 : 1;
  EXPECT_EQ(missing, 0u);
}

TEST(Overload, BeyondMaxInflightCallsFailFastAndServiceRecovers) {
  testing::ServerProcessOptions opts;
  opts.extra_yaml = "max_inflight: 1\n";
  testing::ServerProcess server(opts);
  ASSERT_TRUE(server.Start());
  std::atomic<bool> stop{false};
  std::mutex mu;
  LoadResult load;
  std::thread driver(
      [&] { RunLoad(server.target(), 8, ReadTestdata("bob.der"), "o", stop, load, mu); });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  stop = true;
  driver.join();
  EXPECT_GT(load.answered.size(), 0u);
  EXPECT_GT(load.errors[grpc::StatusCode::RESOURCE_EXHAUSTED], 0)
      << "8 concurrent clients against max_inflight 1 must see fast refusals";
  for (const auto& [code, n] : load.errors) {
    EXPECT_EQ(code, grpc::StatusCode::RESOURCE_EXHAUSTED) << n << " calls failed with " << code;
  }
  // Load gone: a single caller is served again.
  auto client = Connect(server.target());
  v1::AuthorizeResponse resp;
  EXPECT_TRUE(client->Authorize(DerRequest(ReadTestdata("bob.der")), &resp).ok());
  // The admin API is not subject to the bound.
  auto admin = Connect(server.admin_target());
  v1::ListUsersResponse users;
  auto ctx = admin->NewContext();
  EXPECT_TRUE(admin->admin().ListUsers(ctx.get(), {}, &users).ok());
}

// Calls from `threads` threads sharing one channel (one HTTP/2 connection), `per_thread` each:
// the count of answers and the failures by code.
std::pair<int, std::map<grpc::StatusCode, int>> BurstOnOneConnection(const std::string& target,
                                                                     int threads, int per_thread,
                                                                     const std::string& der) {
  auto client = Connect(target);
  std::mutex mu;
  int answered = 0;
  std::map<grpc::StatusCode, int> errors;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        v1::AuthorizeResponse resp;
        grpc::Status s = client->Authorize(DerRequest(der), &resp);
        std::lock_guard<std::mutex> lock(mu);
        if (s.ok()) {
          ++answered;
        } else {
          errors[s.error_code()]++;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  return {answered, errors};
}

// max_streams_per_connection is the transport-level bound: a connection cannot have more calls
// open in the server than it, so the server never reads and holds more. Without it the same burst
// is beyond max_inflight and is refused (the control: the burst does exceed the bound).
TEST(Overload, StreamsPerConnectionMakeOneConnectionsExcessCallsWaitInTheClient) {
  // 24 callers x 10 calls on one connection against max_inflight 3.
  auto burst = [](int max_streams) {
    testing::ServerProcessOptions opts;
    opts.extra_yaml =
        "max_inflight: 3\nmax_streams_per_connection: " + std::to_string(max_streams) + "\n";
    testing::ServerProcess server(opts);
    EXPECT_TRUE(server.Start());
    return BurstOnOneConnection(server.target(), 24, 10, ReadTestdata("bob.der"));
  };
  {
    SCOPED_TRACE("control: no stream limit");
    auto [answered, errors] = burst(0);
    EXPECT_GT(errors[grpc::StatusCode::RESOURCE_EXHAUSTED], 0);
    EXPECT_EQ(answered + errors[grpc::StatusCode::RESOURCE_EXHAUSTED], 240);
  }
  {
    SCOPED_TRACE("one stream per connection");
    auto [answered, errors] = burst(1);
    EXPECT_EQ(answered, 240);
    for (const auto& [code, n] : errors) ADD_FAILURE() << n << " calls failed with " << code;
  }
}

}  // namespace
}  // namespace certgate
