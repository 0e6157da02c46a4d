// Database faults, injected for real: a full disk and a read-only file system (a small tmpfs the
// test mounts), a lock held by another process, and a deleted database file. In each case
// Authorize answers UNAVAILABLE (never an allow, never a crash), health says NOT_SERVING, and —
// when the fault clears — service resumes by itself, and every answered request still has its
// audit row.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "certgate/client.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/server_process.h"
#include "tests/support/testdata.h"

namespace certgate {
namespace {

using testing::ReadTestdata;
using testing::RunCommand;

std::unique_ptr<Client> Connect(const std::string& target) {
  ChannelOptions o;
  o.target = target;
  std::string err;
  return std::make_unique<Client>(MakeChannel(o, &err), std::chrono::seconds(3));
}

class DbFault : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    mnt_ = dir_ + "/mnt";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0700), 0);
  }
  void TearDown() override {
    server_.reset();
    if (mounted_) umount2(mnt_.c_str(), MNT_DETACH);
  }
  // Mounts a small tmpfs for the database; skips (with the reason) where mounting is not allowed.
  bool MountTmpfs(const char* size) {
    std::string opts = std::string("size=") + size;
    if (mount("tmpfs", mnt_.c_str(), "tmpfs", 0, opts.c_str()) != 0) return false;
    mounted_ = true;
    return true;
  }
  void StartServer(const std::string& db_dir) {
    testing::ServerProcessOptions o;
    o.dir = db_dir;
    o.extra_yaml = "health_check_interval_ms: 50\ndatabase_busy_timeout_ms: 200\n";
    server_ = std::make_unique<testing::ServerProcess>(o);
    ASSERT_TRUE(server_->Start());
    client_ = Connect(server_->target());
    auto admin = Connect(server_->admin_target());
    v1::CreateUserRequest cu;
    cu.set_name("alice");
    v1::User u;
    auto c1 = admin->NewContext();
    ASSERT_TRUE(admin->admin().CreateUser(c1.get(), cu, &u).ok());
    v1::EnrollCertificateRequest en;
    en.set_user_name("alice");
    en.set_certificate_der(ReadTestdata("alice.der"));
    v1::Certificate cert;
    auto c2 = admin->NewContext();
    ASSERT_TRUE(admin->admin().EnrollCertificate(c2.get(), en, &cert).ok());
  }
  // One Authorize of alice's enrolled certificate; records answered request ids.
  grpc::Status AuthorizeAlice() {
    v1::AuthorizeRequest req = DerRequest(ReadTestdata("alice.der"));
    std::string rid = "f-" + std::to_string(++counter_);
    req.set_request_id(rid);
    v1::AuthorizeResponse resp;
    grpc::Status s = client_->Authorize(req, &resp);
    if (s.ok()) {
      EXPECT_TRUE(resp.has_identity());
      answered_.push_back(rid);
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
      EXPECT_FALSE(resp.has_identity()) << "an error never carries an identity";
    }
    return s;
  }
  grpc::health::v1::HealthCheckResponse::ServingStatus Health() {
    ChannelOptions o;
    o.target = server_->target();
    std::string err;
    auto stub = grpc::health::v1::Health::NewStub(MakeChannel(o, &err));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service("certgate.v1.Authorizer");
    grpc::health::v1::HealthCheckResponse resp;
    if (!stub->Check(&ctx, req, &resp).ok()) return grpc::health::v1::HealthCheckResponse::UNKNOWN;
    return resp.status();
  }
  // Polls until health reports `want` (bounded).
  bool WaitHealth(grpc::health::v1::HealthCheckResponse::ServingStatus want) {
    for (int i = 0; i < 100; ++i) {
      if (Health() == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Polls until an Authorize succeeds again (bounded).
  bool WaitServed() {
    for (int i = 0; i < 100; ++i) {
      if (AuthorizeAlice().ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Restarts on the same database and checks every answered request has its row.
  void ExpectNoAnsweredRowLost(const std::string& db_dir) {
    server_->Stop();
    testing::ServerProcessOptions o;
    o.dir = db_dir;
    testing::ServerProcess again(o);
    ASSERT_TRUE(again.Start());
    auto admin = Connect(again.admin_target());
    for (const auto& rid : answered_) {
      v1::QueryAuditRequest q;
      q.set_request_id(rid);
      v1::QueryAuditResponse rows;
      auto ctx = admin->NewContext();
      ASSERT_TRUE(admin->admin().QueryAudit(ctx.get(), q, &rows).ok());
      EXPECT_EQ(rows.events_size(), 1) << "answered request " << rid << " lost its audit row";
    }
    again.Stop();
    auto ic = RunCommand({"sqlite3", again.database(), "PRAGMA integrity_check;"});
    EXPECT_EQ(ic.out, "ok\n") << ic.err;
  }

  std::string dir_, mnt_;
  bool mounted_ = false;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<Client> client_;
  std::vector<std::string> answered_;
  int counter_ = 0;
};

using Serving = grpc::health::v1::HealthCheckResponse;

TEST_F(DbFault, FullDiskGivesUnavailableAndNotServingThenRecovers) {
  if (!MountTmpfs("3m")) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << strerror(errno);
  StartServer(mnt_);
  ASSERT_TRUE(AuthorizeAlice().ok());
  ASSERT_EQ(Health(), Serving::SERVING);
  // Fill the file system.
  RunCommand({"sh", "-c", "dd if=/dev/zero of=" + mnt_ + "/filler bs=64k 2>/dev/null; sync"});
  int unavailable = 0;
  for (int i = 0; i < 3000 && unavailable == 0; ++i) unavailable += AuthorizeAlice().ok() ? 0 : 1;
  EXPECT_GT(unavailable, 0) << "a full disk must stop answers (their audit rows cannot commit)";
  EXPECT_TRUE(WaitHealth(Serving::NOT_SERVING));
  // Free the space: service resumes by itself.
  ASSERT_EQ(unlink((mnt_ + "/filler").c_str()), 0);
  EXPECT_TRUE(WaitServed());
  EXPECT_TRUE(WaitHealth(Serving::SERVING));
  ExpectNoAnsweredRowLost(mnt_);
}

// Linux refuses to remount a file system read-only while files on it are open for writing, so
// this fault is injected where it really happens: the database's file system is read-only
// when certgate starts. certgate must refuse to start (fail closed, clear message) rather than
// serve without durable audit rows, and start normally once the file system is writable.
TEST_F(DbFault, ReadOnlyFileSystemAtStartIsRefusedThenStartsWhenWritable) {
  if (!MountTmpfs("16m")) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << strerror(errno);
  StartServer(mnt_);
  ASSERT_TRUE(AuthorizeAlice().ok());
  server_->Stop();
  ASSERT_EQ(mount("tmpfs", mnt_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr), 0) << strerror(errno);
  std::string cfg = dir_ + "/ro.yaml";
  std::ofstream(cfg) << "listen: 127.0.0.1:0\ndatabase: " << mnt_ << "/certgate.db\nadmin_socket: "
                     << dir_ << "/ro.sock\n";
  testing::CommandResult r = RunCommand({testing::Env("CERTGATE_SERVER_BIN"), "--config", cfg});
  EXPECT_NE(r.exit_code, 0) << "must not serve from a database it cannot write";
  EXPECT_NE(r.err.find("certgate.db"), std::string::npos) << r.err;
  ASSERT_EQ(mount("tmpfs", mnt_.c_str(), "tmpfs", MS_REMOUNT, nullptr), 0) << strerror(errno);
  testing::ServerProcessOptions o;
  o.dir = mnt_;
  testing::ServerProcess again(o);
  ASSERT_TRUE(again.Start());
  client_ = Connect(again.target());
  EXPECT_TRUE(AuthorizeAlice().ok());
}

TEST_F(DbFault, LockHeldByAnotherProcessGivesUnavailableThenRecovers) {
  StartServer(dir_);
  ASSERT_TRUE(AuthorizeAlice().ok());
  // Another process takes the write lock and holds it until told to stop.
  std::string release = dir_ + "/release";
  std::string script =
      "import sqlite3, os, time\n"
      "c = sqlite3.connect('" + server_->database() + "', isolation_level=None)\n"
      "c.execute('BEGIN EXCLUSIVE')\n"
      "open('" + dir_ + "/locked', 'w').close()\n"
      "while not os.path.exists('" + release + "'): time.sleep(0.02)\n"
      "c.execute('ROLLBACK')\n";
  std::thread holder([&] { RunCommand({"/usr/bin/python3", "-c", script}); });
  for (int i = 0; i < 200 && access((dir_ + "/locked").c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(AuthorizeAlice().ok());
  EXPECT_TRUE(WaitHealth(Serving::NOT_SERVING));
  std::ofstream(release).put('x');
  holder.join();
  EXPECT_TRUE(WaitServed());
  EXPECT_TRUE(WaitHealth(Serving::SERVING));
  ExpectNoAnsweredRowLost(dir_);
}

TEST_F(DbFault, DeletedDatabaseFileStopsAnswersInsteadOfWritingToAGhost) {
  StartServer(dir_);
  ASSERT_TRUE(AuthorizeAlice().ok());
  ASSERT_EQ(unlink(server_->database().c_str()), 0);
  for (int i = 0; i < 5; ++i) {
    grpc::Status s = AuthorizeAlice();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_TRUE(WaitHealth(Serving::NOT_SERVING));
}

}  // namespace
}  // namespace certgate
