// The certgate CLI binary, spawned as a process against a real server: subcommands, table and
// JSON output, and the exit-code contract (0 success/allowed, 1 denied/not found, 2 usage or
// connection error).
#include <gtest/gtest.h>

#include "tests/support/server_process.h"
#include "tests/support/testdata.h"

namespace certgate {
namespace {

using testing::CommandResult;
using testing::Env;
using testing::RunCommand;
using testing::TestdataPath;

class CliIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ServerProcessOptions o;
    o.extra_yaml = "forwarders:\n  - name: local\n    addresses: [127.0.0.1]\n";
    server_ = std::make_unique<testing::ServerProcess>(o);
    ASSERT_TRUE(server_->Start());
  }
  CommandResult Admin(std::vector<std::string> args) {
    args.insert(args.begin(), {Env("CERTGATE_CLI_BIN"), "--server", server_->admin_target()});
    return RunCommand(args);
  }
  CommandResult Authz(std::vector<std::string> args) {
    args.insert(args.begin(), {Env("CERTGATE_CLI_BIN"), "--server", server_->target()});
    return RunCommand(args);
  }
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(CliIntegration, EnrollAuthorizeRevokeAndAuditThroughTheCli) {
  CommandResult r = Admin({"user", "create", "alice", "--display-name", "Alice A."});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("alice"), std::string::npos);

  r = Admin({"cert", "enroll", "--user", "alice", TestdataPath("alice.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = Authz({"authorize", TestdataPath("alice.der")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ALLOWED"), std::string::npos) << r.out;

  r = Authz({"-o", "json", "authorize", TestdataPath("alice.pem")});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("\"user_name\": \"alice\""), std::string::npos) << r.out;

  r = Authz({"authorize", TestdataPath("bob.pem")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("CERTIFICATE_NOT_ENROLLED"), std::string::npos) << r.out;

  std::string fp = testing::ReadTestdata("alice.fingerprint");
  while (!fp.empty() && (fp.back() == '\n' || fp.back() == '\r')) fp.pop_back();
  r = Admin({"cert", "revoke", "--fingerprint", fp, "--reason", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("revoked"), std::string::npos) << r.out;

  r = Authz({"authorize", TestdataPath("alice.der")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("CERTIFICATE_REVOKED"), std::string::npos) << r.out;

  r = Admin({"-o", "json", "audit", "list", "--reason", "CERTIFICATE_REVOKED"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"reason\": \"CERTIFICATE_REVOKED\""), std::string::npos) << r.out;

  r = Admin({"cert", "list", "--user", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("revoked"), std::string::npos) << r.out;
}

TEST_F(CliIntegration, RefusesToRevokeBySerialAlone) {
  CommandResult r = Admin({"cert", "revoke", "--serial", "01"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("serial alone"), std::string::npos) << r.err;
}

TEST_F(CliIntegration, NotFoundIsExitOneAndUsageErrorsAreExitTwo) {
  EXPECT_EQ(Admin({"user", "get", "nobody"}).exit_code, 1);
  EXPECT_EQ(Admin({"user", "frobnicate"}).exit_code, 2);
  EXPECT_EQ(Admin({"user", "create", "dup"}).exit_code, 0);
  EXPECT_EQ(Admin({"user", "create", "dup"}).exit_code, 1);
  CommandResult r = RunCommand({Env("CERTGATE_CLI_BIN"), "--server", "unix:/nonexistent/sock",
                                "--timeout-ms", "2000", "user", "list"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CliIntegration, AuthorizesAForwardedHeaderValueFromAFile) {
  ASSERT_EQ(Admin({"user", "create", "alice"}).exit_code, 0);
  ASSERT_EQ(Admin({"cert", "enroll", "--user", "alice", TestdataPath("alice.der")}).exit_code, 0);
  // base64-der of alice, as Cloudflare/HAProxy/Caddy forward it.
  CommandResult b64 = RunCommand({"openssl", "base64", "-A", "-in", TestdataPath("alice.der")});
  ASSERT_EQ(b64.exit_code, 0);
  std::string file = server_->dir() + "/header.txt";
  CommandResult w = RunCommand({"sh", "-c", "cat > " + file}, b64.out + "\n");
  ASSERT_EQ(w.exit_code, 0);
  CommandResult r = Authz({"authorize", "--preset", "cloudflare", file});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(CliIntegration, HelpListsExamples) {
  CommandResult r = RunCommand({Env("CERTGATE_CLI_BIN"), "cert", "revoke", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Examples"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace certgate
