// The Admin API and the certgate CLI against a real server: every subcommand (spawned as a
// process), the refusals, the JSON output shape (parsed back into the API's messages), the
// admin listeners' security, and revocation written by another process taking effect at once.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "certgate/client.h"
#include "server/common/clock.h"
#include "server/store/sqlite_store.h"
#include "tests/support/encoding.h"
#include "tests/support/server_process.h"
#include "tests/support/testdata.h"

namespace certgate {
namespace {

using testing::CommandResult;
using testing::Env;
using testing::ReadTestdata;
using testing::RunCommand;
using testing::TestdataPath;
using testing::TrimTrailing;

template <typename Msg>
Msg ParseJson(const std::string& json) {
  Msg m;
  auto st = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(st.ok()) << "CLI JSON does not parse as " << Msg::descriptor()->full_name() << ": "
                       << st.ToString() << "\n"
                       << json;
  return m;
}

class AdminCli : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ServerProcessOptions o;
    o.extra_yaml = "forwarders:\n  - name: local\n    addresses: [127.0.0.1]\n";
    server_ = std::make_unique<testing::ServerProcess>(o);
    ASSERT_TRUE(server_->Start());
  }
  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {Env("CERTGATE_CLI_BIN"), "--server", server_->admin_target()});
    return RunCommand(args);
  }
  CommandResult Db(std::vector<std::string> args) {
    args.insert(args.begin(), {Env("CERTGATE_CLI_BIN"), "--db", server_->database()});
    return RunCommand(args);
  }
  CommandResult Authorize(const std::string& file) {
    return RunCommand({Env("CERTGATE_CLI_BIN"), "--server", server_->target(), "authorize", file});
  }
  void MustSucceed(const CommandResult& r) { ASSERT_EQ(r.exit_code, 0) << r.out << r.err; }

  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(AdminCli, UserLifecycleWithJsonOutput) {
  CommandResult r = Cli(
      {"-o", "json", "user", "create", "alice", "--display-name", "Alice A.", "--role", "admin"});
  MustSucceed(r);
  v1::User u = ParseJson<v1::User>(r.out);
  EXPECT_EQ(u.name(), "alice");
  EXPECT_EQ(u.display_name(), "Alice A.");
  ASSERT_EQ(u.roles_size(), 1);
  EXPECT_EQ(u.roles(0), "admin");
  EXPECT_GT(u.created_at().seconds(), 0);

  MustSucceed(Cli({"user", "create", "bob"}));
  r = Cli({"-o", "json", "user", "list"});
  MustSucceed(r);
  EXPECT_EQ(ParseJson<v1::ListUsersResponse>(r.out).users_size(), 2);

  r = Cli({"-o", "json", "user", "disable", "bob"});
  MustSucceed(r);
  EXPECT_TRUE(ParseJson<v1::User>(r.out).disabled());
  r = Cli({"-o", "json", "user", "get", "bob"});
  EXPECT_TRUE(ParseJson<v1::User>(r.out).disabled());
  r = Cli({"-o", "json", "user", "enable", "bob"});
  EXPECT_FALSE(ParseJson<v1::User>(r.out).disabled());

  r = Cli(
      {"-o", "json", "user", "roles", "bob", "--role", "ops", "--role", "admin", "--role", "ops"});
  MustSucceed(r);
  v1::User bob = ParseJson<v1::User>(r.out);
  ASSERT_EQ(bob.roles_size(), 2) << "sorted and de-duplicated";
  EXPECT_EQ(bob.roles(0), "admin");
  EXPECT_EQ(bob.roles(1), "ops");
  r = Cli({"-o", "json", "user", "roles", "bob"});
  EXPECT_EQ(ParseJson<v1::User>(r.out).roles_size(), 0);

  EXPECT_EQ(Cli({"user", "roles", "bob", "--role", "Bad Role!"}).exit_code, 2);
  EXPECT_EQ(Cli({"user", "get", "nobody"}).exit_code, 1);
  EXPECT_EQ(Cli({"user", "disable", "nobody"}).exit_code, 1);
  r = Cli({"user", "create", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;

  // Table output is for humans: a header and the values.
  r = Cli({"user", "list"});
  EXPECT_NE(r.out.find("NAME"), std::string::npos);
  EXPECT_NE(r.out.find("Alice A."), std::string::npos);
}

TEST_F(AdminCli, EnrollmentRefusalsAndForce) {
  MustSucceed(Cli({"user", "create", "alice"}));
  MustSucceed(Cli({"user", "create", "bob"}));
  MustSucceed(Cli({"cert", "enroll", "--user", "alice", TestdataPath("alice.pem")}));

  struct Case {
    std::string user, file, expect;
    int exit_code;
    bool forcible;
  } cases[] = {
      {"bob", "alice.pem", "already enrolled", 1, false},    // for anyone
      {"alice", "alice.der", "already enrolled", 1, false},  // same cert in another form
      {"bob", "expired.pem", "expired", 1, true},
      {"bob", "serverauth.pem", "clientAuth", 1, true},
      {"bob", "rsa1024.pem", "2048", 1, true},
      {"bob", "samekey.pem", "same public key", 1, true},
      {"bob", "ca_as_client.pem", "CA certificate", 1, true},
      {"bob", "crl.pem", "", 2, false},  // not a certificate at all: invalid argument
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    CommandResult r = Cli({"cert", "enroll", "--user", c.user, TestdataPath(c.file)});
    EXPECT_EQ(r.exit_code, c.exit_code) << r.out << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    if (c.forcible) {
      EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
      CommandResult forced =
          Cli({"cert", "enroll", "--force", "--user", c.user, TestdataPath(c.file)});
      EXPECT_EQ(forced.exit_code, 0) << forced.err;
    } else {
      CommandResult forced =
          Cli({"cert", "enroll", "--force", "--user", c.user, TestdataPath(c.file)});
      EXPECT_NE(forced.exit_code, 0) << "--force must not override this refusal";
    }
  }
  // The samekey refusal is per user: the same key for its own user is fine.
  MustSucceed(Cli({"user", "create", "carol"}));
  // Enrollment by subject+serial+issuer without the certificate.
  CommandResult r = Cli({"-o", "json", "cert", "enroll", "--user", "carol", "--subject",
                         TrimTrailing(ReadTestdata("carol.subject")), "--serial",
                         TrimTrailing(ReadTestdata("carol.serial")), "--issuer",
                         TrimTrailing(ReadTestdata("carol.issuer"))});
  MustSucceed(r);
  v1::Certificate c = ParseJson<v1::Certificate>(r.out);
  EXPECT_EQ(c.fingerprint_sha256(), "");
  EXPECT_EQ(c.serial(), TrimTrailing(ReadTestdata("carol.serial")));
  EXPECT_EQ(c.status(), "active");
  // Without the issuer it is refused (usage error from the server: invalid argument).
  EXPECT_EQ(
      Cli({"cert", "enroll", "--user", "carol", "--subject", "CN=x", "--serial", "01"}).exit_code,
      2);
}

TEST_F(AdminCli, CertificateListGetRevokeAndHold) {
  MustSucceed(Cli({"user", "create", "alice"}));
  MustSucceed(Cli({"user", "create", "erin"}));
  MustSucceed(Cli({"cert", "enroll", "--user", "alice", TestdataPath("alice.pem")}));
  MustSucceed(
      Cli({"cert", "enroll", "--user", "alice", TestdataPath("leaf_via_intermediate.pem")}));
  MustSucceed(Cli({"cert", "enroll", "--user", "erin", TestdataPath("erin.pem")}));
  MustSucceed(Cli({"cert", "enroll", "--user", "erin", TestdataPath("dave.pem")}));
  const std::string alice_fp = TrimTrailing(ReadTestdata("alice.fingerprint"));

  CommandResult r = Cli({"-o", "json", "cert", "list", "--user", "alice"});
  MustSucceed(r);
  EXPECT_EQ(ParseJson<v1::ListCertificatesResponse>(r.out).certificates_size(), 2);
  r = Cli({"-o", "json", "cert", "get", "--fingerprint", alice_fp});
  MustSucceed(r);
  v1::Certificate got = ParseJson<v1::Certificate>(r.out);
  EXPECT_EQ(got.user_name(), "alice");
  EXPECT_EQ(got.spki_sha256(), TrimTrailing(ReadTestdata("alice.spki_sha256")));
  EXPECT_EQ(Cli({"cert", "get", "--fingerprint", std::string(64, 'a')}).exit_code, 1);

  // Hold, then release: allowed again. A permanent revocation cannot be released.
  MustSucceed(Cli({"cert", "revoke", "--fingerprint", alice_fp, "--reason", "6"}));
  r = Cli({"-o", "json", "cert", "get", "--fingerprint", alice_fp});
  EXPECT_EQ(ParseJson<v1::Certificate>(r.out).status(), "on_hold");
  EXPECT_EQ(Authorize(TestdataPath("alice.pem")).exit_code, 1);
  MustSucceed(Cli({"cert", "release-hold", "--fingerprint", alice_fp}));
  EXPECT_EQ(Authorize(TestdataPath("alice.pem")).exit_code, 0);
  EXPECT_EQ(Cli({"cert", "release-hold", "--fingerprint", alice_fp}).exit_code, 1) << "not on hold";

  // Revoke by issuer + serial (the serial in colon form), with a reason and time.
  std::string serial = TrimTrailing(ReadTestdata("alice.serial"));
  r = Cli({"-o", "json", "cert", "revoke", "--issuer", TrimTrailing(ReadTestdata("alice.issuer")),
           "--serial", serial, "--reason", "1", "--time", "2h"});
  MustSucceed(r);
  v1::RevokeCertificateResponse rev = ParseJson<v1::RevokeCertificateResponse>(r.out);
  EXPECT_EQ(rev.certificate().status(), "revoked");
  EXPECT_EQ(rev.certificate().revocation_reason(), 1);
  EXPECT_NEAR(rev.certificate().revoked_at().seconds(), time(nullptr) - 7200, 60);
  EXPECT_EQ(Cli({"cert", "release-hold", "--fingerprint", alice_fp}).exit_code, 1);
  // Same serial, wrong issuer: not found — never revoked by serial alone.
  EXPECT_EQ(Cli({"cert", "revoke", "--issuer", "CN=Someone Else", "--serial", serial}).exit_code,
            1);

  // Every certificate of a user.
  r = Cli({"-o", "json", "cert", "revoke", "--user", "erin", "--reason", "3"});
  MustSucceed(r);
  EXPECT_EQ(ParseJson<v1::RevokeCertificateResponse>(r.out).certificates_size(), 2);
  EXPECT_EQ(Authorize(TestdataPath("dave.pem")).exit_code, 1);

  r = Cli({"-o", "json", "cert", "list", "--status", "revoked"});
  EXPECT_EQ(ParseJson<v1::ListCertificatesResponse>(r.out).certificates_size(), 3);
  r = Cli({"-o", "json", "cert", "list", "--status", "active"});
  EXPECT_EQ(ParseJson<v1::ListCertificatesResponse>(r.out).certificates_size(), 1);
  // The test leaves expire in 2099: none within 30 days, all within 100 years.
  r = Cli({"-o", "json", "cert", "list", "--expiring-days", "30"});
  EXPECT_EQ(ParseJson<v1::ListCertificatesResponse>(r.out).certificates_size(), 0);
  r = Cli({"-o", "json", "cert", "list", "--expiring-days", "36500"});
  EXPECT_EQ(ParseJson<v1::ListCertificatesResponse>(r.out).certificates_size(), 4);
}

TEST(AdminPaging, ListCertificatesPagesByIdWithFiltersAndRejectsBadTokens) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start());
  ChannelOptions o;
  o.target = server.admin_target();
  std::string err;
  Client c(MakeChannel(o, &err));
  ASSERT_TRUE(err.empty()) << err;
  v1::CreateUserRequest cu;
  cu.set_name("pat");
  v1::User user;
  ASSERT_TRUE(c.admin().CreateUser(c.NewContext().get(), cu, &user).ok());
  std::vector<int64_t> ids;
  for (int i = 1; i <= 7; ++i) {
    v1::EnrollCertificateRequest e;
    e.set_user_name("pat");
    e.mutable_subject_serial()->set_subject_dn("CN=pat-" + std::to_string(i));
    e.mutable_subject_serial()->set_serial("0" + std::to_string(i));
    e.mutable_subject_serial()->set_issuer_dn("CN=Paging CA");
    v1::Certificate cert;
    grpc::Status s = c.admin().EnrollCertificate(c.NewContext().get(), e, &cert);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ids.push_back(cert.id());
  }
  // Revoke the 2nd and 6th, so a status filter has to skip rows across pages.
  for (int i : {1, 5}) {
    v1::RevokeCertificateRequest r;
    r.mutable_issuer_serial()->set_issuer_dn("CN=Paging CA");
    r.mutable_issuer_serial()->set_serial("0" + std::to_string(i + 1));
    r.set_reason_code(1);
    v1::RevokeCertificateResponse rr;
    grpc::Status s = c.admin().RevokeCertificate(c.NewContext().get(), r, &rr);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // All pages of `req`, checking each is at most page_size; the ids in order.
  auto all_pages = [&](v1::ListCertificatesRequest req, int* calls) {
    std::vector<int64_t> got;
    *calls = 0;
    do {
      v1::ListCertificatesResponse page;
      grpc::Status s = c.admin().ListCertificates(c.NewContext().get(), req, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      EXPECT_LE(page.certificates_size(), req.page_size());
      for (const auto& cert : page.certificates()) got.push_back(cert.id());
      req.set_page_token(page.next_page_token());
      ++*calls;
    } while (!req.page_token().empty() && *calls < 20);
    return got;
  };
  v1::ListCertificatesRequest req;
  req.set_page_size(3);
  int calls = 0;
  EXPECT_EQ(all_pages(req, &calls), ids);
  EXPECT_EQ(calls, 3);  // 3 + 3 + 1
  req.set_status("revoked");
  EXPECT_EQ(all_pages(req, &calls), (std::vector<int64_t>{ids[1], ids[5]}));
  req.set_status("active");
  EXPECT_EQ(all_pages(req, &calls), (std::vector<int64_t>{ids[0], ids[2], ids[3], ids[4], ids[6]}));
  // A page size that divides the total exactly still ends.
  req.clear_status();
  req.set_page_size(7);
  EXPECT_EQ(all_pages(req, &calls), ids);
  EXPECT_LE(calls, 2);

  // Bad paging parameters are refused, not guessed.
  for (const std::string& token : {std::string("abc"), std::string("-1"), std::string(40, '9')}) {
    v1::ListCertificatesRequest bad;
    bad.set_page_token(token);
    v1::ListCertificatesResponse resp;
    EXPECT_EQ(c.admin().ListCertificates(c.NewContext().get(), bad, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << token;
  }
  v1::ListCertificatesRequest big;
  big.set_page_size(10001);
  v1::ListCertificatesResponse resp;
  EXPECT_EQ(c.admin().ListCertificates(c.NewContext().get(), big, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Get by id reads that row.
  v1::GetCertificateRequest g;
  g.set_id(ids[4]);
  v1::Certificate one;
  ASSERT_TRUE(c.admin().GetCertificate(c.NewContext().get(), g, &one).ok());
  EXPECT_EQ(one.subject(), "CN=pat-5");
  g.set_id(ids.back() + 1000);
  EXPECT_EQ(c.admin().GetCertificate(c.NewContext().get(), g, &one).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminCli, AuditQueryTailAndExplain) {
  MustSucceed(Cli({"user", "create", "alice"}));
  MustSucceed(Cli({"cert", "enroll", "--user", "alice", TestdataPath("alice.pem")}));
  EXPECT_EQ(Authorize(TestdataPath("alice.pem")).exit_code, 0);
  EXPECT_EQ(Authorize(TestdataPath("bob.pem")).exit_code, 1);

  CommandResult r = Cli({"-o", "json", "audit", "list"});
  MustSucceed(r);
  v1::QueryAuditResponse all = ParseJson<v1::QueryAuditResponse>(r.out);
  ASSERT_EQ(all.events_size(), 4) << "user.create, cert.enroll, two decisions";
  EXPECT_GT(all.events(0).id(), all.events(3).id()) << "newest first";
  EXPECT_EQ(all.events(3).action(), "user.create");
  EXPECT_EQ(all.events(3).kind(), "admin");
  EXPECT_NE(all.events(3).caller().find("unix"), std::string::npos) << "acting identity recorded";

  r = Cli({"-o", "json", "audit", "list", "--decision", "DENY"});
  v1::QueryAuditResponse denies = ParseJson<v1::QueryAuditResponse>(r.out);
  ASSERT_EQ(denies.events_size(), 1);
  EXPECT_EQ(denies.events(0).reason(), "CERTIFICATE_NOT_ENROLLED");
  r = Cli({"-o", "json", "audit", "list", "--user", "alice", "--action", "cert.enroll"});
  EXPECT_EQ(ParseJson<v1::QueryAuditResponse>(r.out).events_size(), 1);
  r = Cli({"-o", "json", "audit", "list", "--limit", "2"});
  v1::QueryAuditResponse page1 = ParseJson<v1::QueryAuditResponse>(r.out);
  ASSERT_EQ(page1.events_size(), 2);
  r = Cli({"-o", "json", "audit", "list", "--limit", "2", "--before-id",
           std::to_string(page1.events(1).id())});
  v1::QueryAuditResponse page2 = ParseJson<v1::QueryAuditResponse>(r.out);
  ASSERT_EQ(page2.events_size(), 2);
  EXPECT_LT(page2.events(0).id(), page1.events(1).id());
  r = Cli({"-o", "json", "audit", "list", "--since", "1h"});
  EXPECT_EQ(ParseJson<v1::QueryAuditResponse>(r.out).events_size(), 4);
  r = Cli({"-o", "json", "audit", "list", "--until", "1h"});
  EXPECT_EQ(ParseJson<v1::QueryAuditResponse>(r.out).events_size(), 0);
  EXPECT_EQ(Cli({"audit", "list", "--reason", "NOT_A_REASON"}).exit_code, 2);
  EXPECT_EQ(Cli({"audit", "list", "--since", "yesterday"}).exit_code, 2);

  // tail: the newest rows oldest first.
  r = Cli({"-o", "json", "audit", "tail", "-n", "2"});
  MustSucceed(r);
  size_t nl = r.out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  v1::AuditEvent first = ParseJson<v1::AuditEvent>(r.out.substr(0, nl));
  v1::AuditEvent second = ParseJson<v1::AuditEvent>(r.out.substr(nl + 1));
  EXPECT_LT(first.id(), second.id());

  // explain: steps, the decision, and nothing audited.
  r = Cli({"explain", TestdataPath("alice.pem")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("lookup"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("=> ALLOW user=alice"), std::string::npos) << r.out;
  r = Cli({"-o", "json", "explain", "--preset", "cloudflare", "--as-caller", "ipv4:10.1.1.1:5",
           TestdataPath("alice.b64")});
  EXPECT_EQ(r.exit_code, 0);
  v1::ExplainResponse ex = ParseJson<v1::ExplainResponse>(r.out);
  EXPECT_EQ(ex.result().rejection().reason(), v1::Rejection::FORWARDER_NOT_TRUSTED);
  EXPECT_EQ(ex.result().audit_id(), 0);
  r = Cli({"-o", "json", "explain", "--preset", "cloudflare", "--as-caller", "ipv4:127.0.0.1:5",
           TestdataPath("alice.b64")});
  EXPECT_TRUE(ParseJson<v1::ExplainResponse>(r.out).result().has_identity()) << r.out;
  r = Cli({"-o", "json", "audit", "list"});
  EXPECT_EQ(ParseJson<v1::QueryAuditResponse>(r.out).events_size(), 4) << "explain audits nothing";
}

TEST_F(AdminCli, AuditTailFollowPrintsNewRows) {
  std::string out_file = server_->dir() + "/tail.out";
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = freopen(out_file.c_str(), "w", stdout);
    (void)f;
    std::string cli = Env("CERTGATE_CLI_BIN");
    execl(cli.c_str(), cli.c_str(), "--server", server_->admin_target().c_str(), "-o", "json",
          "audit", "tail", "-f", "--interval-ms", "50", static_cast<char*>(nullptr));
    _exit(127);
  }
  MustSucceed(Cli({"user", "create", "followed-user"}));
  // Wait (bounded) until the follower printed the new row.
  std::string seen;
  for (int i = 0; i < 200 && seen.find("followed-user") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = testing::ReadFile(out_file);
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_NE(seen.find("followed-user"), std::string::npos) << seen;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "SIGINT ends -f cleanly";
}

TEST_F(AdminCli, DirectDatabaseWritesTakeEffectForTheNextRequest) {
  MustSucceed(Cli({"user", "create", "alice"}));
  MustSucceed(Cli({"user", "create", "dave"}));
  MustSucceed(Cli({"cert", "enroll", "--user", "alice", TestdataPath("alice.pem")}));
  MustSucceed(Cli({"cert", "enroll", "--user", "dave", TestdataPath("dave.pem")}));
  ASSERT_EQ(Authorize(TestdataPath("alice.pem")).exit_code, 0);
  ASSERT_EQ(Authorize(TestdataPath("dave.pem")).exit_code, 0);

  // Another process writes to the database while the server runs.
  MustSucceed(
      Db({"cert", "revoke", "--fingerprint", TrimTrailing(ReadTestdata("alice.fingerprint"))}));
  CommandResult r = Authorize(TestdataPath("alice.pem"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("CERTIFICATE_REVOKED"), std::string::npos) << r.out;
  MustSucceed(Db({"user", "disable", "dave"}));
  r = Authorize(TestdataPath("dave.pem"));
  EXPECT_NE(r.out.find("USER_DISABLED"), std::string::npos) << r.out;

  // The direct-mode action is audited with its actor.
  r = Cli({"-o", "json", "audit", "list", "--action", "cert.revoke"});
  v1::QueryAuditResponse rows = ParseJson<v1::QueryAuditResponse>(r.out);
  ASSERT_EQ(rows.events_size(), 1);
  EXPECT_NE(rows.events(0).caller().find("cli --db"), std::string::npos) << rows.events(0).caller();
}

// audit_retention_days: rows older than the retention are deleted by the running server; newer
// rows stay. The old rows are written by another process's store
// (an earlier certgate), with their times in the past.
TEST(AuditRetention, TheServerDeletesRowsOlderThanTheRetentionAndKeepsTheRest) {
  testing::ServerProcessOptions opts;
  opts.extra_yaml = "audit_retention_days: 30\naudit_retention_interval_ms: 50\n";
  testing::ServerProcess server(opts);
  ASSERT_TRUE(server.Start());
  SystemClock clock;
  const int64_t day = 86'400'000'000;
  {
    store::SqliteOptions so;
    so.path = server.database();
    auto st = store::OpenSqliteStore(so, clock);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    std::vector<store::AuditEvent> rows;
    for (auto [rid, age_days] : std::vector<std::pair<std::string, int64_t>>{
             {"old-1", 400}, {"old-2", 31}, {"recent-1", 29}, {"recent-2", 1}}) {
      store::AuditEvent e;
      e.time = clock.NowMicros() - age_days * day;
      e.kind = "authorize";
      e.request_id = rid;
      rows.push_back(e);
    }
    ASSERT_TRUE((*st)->AppendAudit(rows).ok());
  }
  ChannelOptions o;
  o.target = server.admin_target();
  std::string err;
  Client c(MakeChannel(o, &err));
  auto request_ids = [&] {
    std::set<std::string> ids;
    v1::QueryAuditRequest q;
    q.set_limit(1000);
    v1::QueryAuditResponse resp;
    EXPECT_TRUE(c.admin().QueryAudit(c.NewContext().get(), q, &resp).ok());
    for (const auto& e : resp.events()) ids.insert(e.request_id());
    return ids;
  };
  std::set<std::string> ids = request_ids();
  for (int i = 0; i < 200 && (ids.count("old-1") || ids.count("old-2")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    ids = request_ids();
  }
  EXPECT_EQ(ids.count("old-1"), 0u);
  EXPECT_EQ(ids.count("old-2"), 0u);
  EXPECT_EQ(ids.count("recent-1"), 1u);
  EXPECT_EQ(ids.count("recent-2"), 1u);
}

TEST(AdminBootstrap, DirectDatabaseModeImportsCrlsVerifiedAgainstTheConfiguredAnchors) {
  const std::string dir = testing::MakeTempDir();
  const std::string db = dir + "/certgate.db";
  const std::string cli = Env("CERTGATE_CLI_BIN");
  // Without the server's config there is no trust anchor to verify the CRL's signature with:
  // refused (and nothing stored), never imported unverified.
  CommandResult r = RunCommand({cli, "--db", db, "crl", "import", TestdataPath("crl.der")});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.err.find("UNIMPLEMENTED"), std::string::npos) << r.err;
  r = RunCommand({cli, "--db", db, "-o", "json", "crl", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("crl_number"), std::string::npos) << r.out;

  const std::string config = dir + "/certgate.yaml";
  {
    std::ofstream f(config);
    f << "trust:\n  ca_files: [" << TestdataPath("ca.pem") << "]\n";
  }
  r = RunCommand({cli, "--db", db, "--config", config, "crl", "import", TestdataPath("crl.der")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A CRL signed by another CA with the same name does not verify against the anchor.
  r = RunCommand(
      {cli, "--db", db, "--config", config, "crl", "import", TestdataPath("crl_rogue.der")});
  EXPECT_NE(r.exit_code, 0) << r.out;
  r = RunCommand({cli, "--db", db, "-o", "json", "crl", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"crl_number\": \"1000\""), std::string::npos) << r.out;
  // A config whose anchor file is missing is an error, not fingerprint-only mode.
  {
    std::ofstream f(config);
    f << "trust:\n  ca_files: [" << dir << "/missing.pem]\n";
  }
  r = RunCommand({cli, "--db", db, "--config", config, "crl", "list"});
  EXPECT_NE(r.exit_code, 0) << r.out;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST(AdminBootstrap, DirectDatabaseModeWorksWithoutAServer) {
  std::string dir = testing::MakeTempDir();
  std::string db = dir + "/fresh.db";
  std::string cli = Env("CERTGATE_CLI_BIN");
  CommandResult r = RunCommand({cli, "--db", db, "user", "create", "root", "--role", "admin"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({cli, "--db", db, "cert", "enroll", "--user", "root", TestdataPath("alice.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({cli, "--db", db, "-o", "json", "user", "get", "root"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(ParseJson<v1::User>(r.out).roles(0), "admin");
  // A server started later on the same file sees the bootstrap.
  testing::ServerProcessOptions o;
  o.dir = dir;
  testing::ServerProcess server(o);
  // ServerProcess uses dir/certgate.db; point it at our file by name.
  ASSERT_EQ(rename(db.c_str(), (dir + "/certgate.db").c_str()), 0);
  ASSERT_TRUE(server.Start());
  r = RunCommand({cli, "--server", server.target(), "authorize", TestdataPath("alice.pem")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(AdminListeners, UnixSocketIsOwnerOnly) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start());
  struct stat st {};
  ASSERT_EQ(stat(server.admin_socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AdminListeners, AuthorizationListenerNeverServesAdminCalls) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start());
  ChannelOptions o;
  o.target = server.target();
  std::string err;
  Client c(MakeChannel(o, &err));
  v1::ListUsersResponse resp;
  auto ctx = c.NewContext();
  EXPECT_EQ(c.admin().ListUsers(ctx.get(), {}, &resp).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

class TcpAdmin : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ServerProcessOptions o;
    o.extra_yaml =
        "admin_tcp:\n  listen: 127.0.0.1:0\n  cert_file: " + TestdataPath("admin_server.pem") +
        "\n  key_file: " + TestdataPath("admin_server.key") +
        "\n  client_ca_file: " + TestdataPath("ca.pem") + "\n";
    server_ = std::make_unique<testing::ServerProcess>(o);
    ASSERT_TRUE(server_->Start());
    ASSERT_GT(server_->admin_tcp_port(), 0);
    // Bootstrap over the unix socket: alice is an admin, bob is enrolled but not an admin.
    std::string cli = Env("CERTGATE_CLI_BIN");
    for (auto args : std::vector<std::vector<std::string>>{
             {"user", "create", "alice", "--role", "admin"},
             {"user", "create", "bob"},
             {"cert", "enroll", "--user", "alice", TestdataPath("alice.pem")},
             {"cert", "enroll", "--user", "bob", TestdataPath("bob.pem")}}) {
      args.insert(args.begin(), {cli, "--server", server_->admin_target()});
      ASSERT_EQ(RunCommand(args).exit_code, 0);
    }
  }
  grpc::Status ListUsersAs(const std::string& name, bool tls = true) {
    ChannelOptions o;
    o.target = "127.0.0.1:" + std::to_string(server_->admin_tcp_port());
    if (tls) {
      o.ca_file = TestdataPath("ca.pem");
      if (!name.empty()) {
        o.cert_file = TestdataPath(name + ".pem");
        o.key_file = TestdataPath(name + ".key");
      }
    }
    std::string err;
    auto ch = MakeChannel(o, &err);
    EXPECT_TRUE(ch) << err;
    Client c(ch, std::chrono::seconds(5));
    v1::ListUsersResponse resp;
    auto ctx = c.NewContext();
    return c.admin().ListUsers(ctx.get(), {}, &resp);
  }
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(TcpAdmin, RefusesPlaintextUntrustedAndNonAdminClientsAndAcceptsAnAdmin) {
  EXPECT_EQ(ListUsersAs("", /*tls=*/false).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "plaintext client";
  EXPECT_EQ(ListUsersAs("").error_code(), grpc::StatusCode::UNAVAILABLE) << "no client certificate";
  EXPECT_EQ(ListUsersAs("rogue_alice").error_code(), grpc::StatusCode::UNAVAILABLE)
      << "certificate from an untrusted CA";
  EXPECT_EQ(ListUsersAs("bob").error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << "enrolled but not an admin";
  grpc::Status ok = ListUsersAs("alice");
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  // The refusal was audited with the caller's identity; the admin's action carries its name.
  CommandResult r = RunCommand({Env("CERTGATE_CLI_BIN"), "--server", server_->admin_target(), "-o",
                                "json", "audit", "list", "--decision", "DENY"});
  auto rows = ParseJson<v1::QueryAuditResponse>(r.out);
  ASSERT_EQ(rows.events_size(), 1);
  EXPECT_EQ(rows.events(0).reason(), "ACCESS_DENIED");
  EXPECT_EQ(rows.events(0).user_name(), "bob");
  EXPECT_EQ(rows.events(0).action(), "user.list");

  // The CLI speaks mTLS too.
  r = RunCommand({Env("CERTGATE_CLI_BIN"), "--server",
                  "127.0.0.1:" + std::to_string(server_->admin_tcp_port()), "--ca",
                  TestdataPath("ca.pem"), "--cert", TestdataPath("alice.pem"), "--key",
                  TestdataPath("alice.key"), "user", "create", "carol"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({Env("CERTGATE_CLI_BIN"), "--server", server_->admin_target(), "-o", "json",
                  "audit", "list", "--action", "user.create", "--limit", "1"});
  rows = ParseJson<v1::QueryAuditResponse>(r.out);
  ASSERT_EQ(rows.events_size(), 1);
  EXPECT_NE(rows.events(0).caller().find("admin=alice"), std::string::npos)
      << rows.events(0).caller();
}

TEST_F(TcpAdmin, DisabledOrRevokedAdminIsRefused) {
  std::string cli = Env("CERTGATE_CLI_BIN");
  ASSERT_TRUE(ListUsersAs("alice").ok());
  ASSERT_EQ(
      RunCommand({cli, "--server", server_->admin_target(), "user", "disable", "alice"}).exit_code,
      0);
  EXPECT_EQ(ListUsersAs("alice").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_EQ(
      RunCommand({cli, "--server", server_->admin_target(), "user", "enable", "alice"}).exit_code,
      0);
  ASSERT_TRUE(ListUsersAs("alice").ok());
  ASSERT_EQ(RunCommand({cli, "--server", server_->admin_target(), "cert", "revoke", "--fingerprint",
                        TrimTrailing(ReadTestdata("alice.fingerprint"))})
                .exit_code,
            0);
  EXPECT_EQ(ListUsersAs("alice").error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST(AdminConfig, TcpAdminListenerWithoutTlsIsRefusedAtStart) {
  std::string dir = testing::MakeTempDir();
  std::string cfg = dir + "/c.yaml";
  CommandResult w = RunCommand({"sh", "-c", "cat > " + cfg},
                               "database: " + dir + "/db\nadmin_socket: " + dir +
                                   "/s\nlisten: 127.0.0.1:0\nadmin_tcp:\n  listen: 127.0.0.1:0\n");
  ASSERT_EQ(w.exit_code, 0);
  CommandResult r = RunCommand({Env("CERTGATE_SERVER_BIN"), "--config", cfg});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("mTLS"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace certgate
