// SQLite-specific behaviour of the store: migrations, durability of the schema version, visibility
// of other connections' writes, concurrency, atomic audit batches, and error mapping.
#include "server/store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/common/clock.h"
#include "server/store/migrations.h"
#include "server/store/sqlite_util.h"
#include "tests/support/testdata.h"
#include "tests/unit/server/store/store_test_util.h"

namespace certgate::store {
namespace {

using testing::MakeEvent;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = certgate::testing::MakeTempDir();
    path_ = dir_ + "/db/certgate.db";
    clock_.SetMicros(1'000'000);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(dir_, ec);
  }

  SqliteOptions Options() const {
    SqliteOptions o;
    o.path = path_;
    return o;
  }

  std::unique_ptr<Store> Open(const SqliteOptions& options) {
    Result<std::unique_ptr<Store>> s = OpenSqliteStore(options, clock_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::unique_ptr<Store> Open() { return Open(Options()); }

  // An independent raw connection to the file, like the CLI's direct access or another process.
  sqlite::Db Raw() {
    Result<sqlite::Db> db = sqlite::Db::Open(path_, SQLITE_OPEN_READWRITE);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (db.ok()) sqlite3_busy_timeout(db->get(), 5000);
    return db.ok() ? std::move(db).value() : sqlite::Db();
  }

  // First column of the first row of `sql`, as text ("" when no row).
  static std::string QueryText(sqlite::Db& db, const std::string& sql) {
    Result<sqlite::Stmt> st = sqlite::Stmt::Prepare(db.get(), sql, false);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    if (!st.ok()) return "";
    Result<bool> row = st->Step();
    EXPECT_TRUE(row.ok()) << row.status().ToString();
    return row.ok() && *row ? st->ColumnText(0) : "";
  }

  static std::vector<Migration> ExtendedMigrations(std::string extra_sql) {
    std::vector<Migration> m = EmbeddedMigrations();
    int next = m.back().version + 1;
    m.push_back({next, "9999_test_extra.sql", std::move(extra_sql)});
    return m;
  }

  FakeClock clock_;
  std::string dir_;
  std::string path_;
};

int NewestEmbedded() { return EmbeddedMigrations().back().version; }

template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.ok() ? Status::Ok() : r.status();
}

TEST(SqliteMigrations, EmbeddedListStartsAtOneAndIsStrictlyIncreasing) {
  const std::vector<Migration>& m = EmbeddedMigrations();
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.front().version, 1);
  EXPECT_EQ(m.front().name, "0001_initial.sql");
  for (size_t i = 1; i < m.size(); ++i) EXPECT_GT(m[i].version, m[i - 1].version);
}

TEST_F(SqliteStoreTest, CreatesParentDirectoryAndRecordsSchemaVersion) {
  ASSERT_FALSE(std::filesystem::exists(dir_ + "/db"));
  std::unique_ptr<Store> store = Open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(std::filesystem::exists(path_));

  Result<int> version = ReadSchemaVersion(path_);
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, NewestEmbedded());

  sqlite::Db raw = Raw();
  EXPECT_EQ(QueryText(raw, "PRAGMA user_version"), std::to_string(NewestEmbedded()));
  EXPECT_EQ(QueryText(raw, "SELECT count(*) FROM schema_version"),
            std::to_string(EmbeddedMigrations().size()));
  EXPECT_EQ(QueryText(raw, "SELECT name FROM schema_version WHERE version = 1"),
            "0001_initial.sql");
  EXPECT_EQ(QueryText(raw, "SELECT applied_at FROM schema_version WHERE version = 1"), "1000000");
}

TEST_F(SqliteStoreTest, UsesWalModeAndDeclaresTheAuditTableWithoutForeignKeys) {
  std::unique_ptr<Store> store = Open();
  ASSERT_TRUE(store);
  sqlite::Db raw = Raw();
  EXPECT_EQ(QueryText(raw, "PRAGMA journal_mode"), "wal");
  EXPECT_NE(QueryText(raw, "SELECT sql FROM sqlite_master WHERE name = 'certificates'")
                .find("REFERENCES users"),
            std::string::npos);
  EXPECT_EQ(QueryText(raw, "SELECT sql FROM sqlite_master WHERE name = 'audit_events'")
                .find("REFERENCES"),
            std::string::npos)
      << "audit rows must survive user deletion";
}

TEST_F(SqliteStoreTest, StoreConnectionsEnforceForeignKeysAndAuditRowsSurviveUserDeletion) {
  std::unique_ptr<Store> store = Open();
  ASSERT_TRUE(store);
  User u;
  u.name = "alice";
  u.roles = {"admin"};
  Result<User> alice = store->CreateUser(u);
  ASSERT_TRUE(alice.ok());
  EnrolledCertificate c;
  c.user_id = alice->id;
  c.issuer_canonical = "cn=ca";
  c.serial = "01";
  ASSERT_TRUE(store->EnrollCertificate(c).ok());
  std::vector<AuditEvent> events = {MakeEvent("r1")};
  events[0].user_id = alice->id;
  ASSERT_TRUE(store->AppendAudit(events).ok());

  // The delete must run on one of the STORE's connections (foreign_keys is per connection), so
  // a trigger turns the store's own "disable" into a delete. ON DELETE CASCADE then only fires
  // if the store enabled foreign keys.
  sqlite::Db raw = Raw();
  ASSERT_TRUE(raw.Exec("CREATE TRIGGER disable_deletes AFTER UPDATE OF disabled ON users "
                       "WHEN NEW.disabled = 1 BEGIN DELETE FROM users WHERE id = NEW.id; END",
                       "trigger")
                  .ok());
  ASSERT_TRUE(store->SetUserDisabled(alice->id, true).ok());
  EXPECT_FALSE(store->GetUser(alice->id).value().has_value());
  EXPECT_TRUE(store->ListCertificates(std::nullopt)->empty()) << "cascade ran: FKs are on";
  EXPECT_EQ(QueryText(raw, "SELECT count(*) FROM user_roles"), "0");
  Result<std::vector<AuditEvent>> audit = store->QueryAudit({});
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].user_id, alice->id);
}

TEST_F(SqliteStoreTest, ReopeningDoesNotReapplyMigrations) {
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_TRUE(store);
    User u;
    u.name = "alice";
    ASSERT_TRUE(store->CreateUser(u).ok());
  }
  clock_.SetMicros(2'000'000);
  std::unique_ptr<Store> store = Open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->GetUserByName("alice").value().has_value()) << "data survives reopening";
  sqlite::Db raw = Raw();
  EXPECT_EQ(QueryText(raw, "SELECT count(*) FROM schema_version"),
            std::to_string(EmbeddedMigrations().size()));
  EXPECT_EQ(QueryText(raw, "SELECT max(applied_at) FROM schema_version"), "1000000")
      << "nothing was applied at the second open";
}

TEST_F(SqliteStoreTest, AppliesOnlyPendingMigrations) {
  { ASSERT_TRUE(Open()); }
  clock_.SetMicros(2'000'000);
  std::vector<Migration> extended = ExtendedMigrations("CREATE TABLE extra (x INTEGER);");
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(Options(), clock_, extended);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(ReadSchemaVersion(path_).value(), extended.back().version);
  sqlite::Db raw = Raw();
  EXPECT_EQ(QueryText(raw, "SELECT count(*) FROM schema_version WHERE applied_at = 2000000"), "1");
  EXPECT_EQ(QueryText(raw, "SELECT count(*) FROM sqlite_master WHERE name = 'extra'"), "1");
  EXPECT_EQ(QueryText(raw, "PRAGMA user_version"), std::to_string(extended.back().version));
}

TEST_F(SqliteStoreTest, RefusesADatabaseWithANewerSchema) {
  std::vector<Migration> extended = ExtendedMigrations("CREATE TABLE extra (x INTEGER);");
  {
    Result<std::unique_ptr<Store>> newer = OpenSqliteStore(Options(), clock_, extended);
    ASSERT_TRUE(newer.ok()) << newer.status().ToString();
  }
  Result<std::unique_ptr<Store>> older = OpenSqliteStore(Options(), clock_);
  ASSERT_FALSE(older.ok());
  EXPECT_EQ(older.status().code(), StatusCode::kFailedPrecondition);
  const std::string& msg = older.status().message();
  EXPECT_NE(msg.find("schema version " + std::to_string(extended.back().version)),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("(" + std::to_string(NewestEmbedded()) + ")"), std::string::npos) << msg;

  // Also refused when not applying migrations, and when read-only.
  SqliteOptions no_migrate = Options();
  no_migrate.apply_migrations = false;
  EXPECT_EQ(OpenSqliteStore(no_migrate, clock_).status().code(), StatusCode::kFailedPrecondition);
  SqliteOptions read_only = Options();
  read_only.read_only = true;
  EXPECT_EQ(OpenSqliteStore(read_only, clock_).status().code(), StatusCode::kFailedPrecondition);
  // And the file is untouched.
  EXPECT_EQ(ReadSchemaVersion(path_).value(), extended.back().version);
}

TEST_F(SqliteStoreTest, AllPendingMigrationsApplyInOneTransaction) {
  // A fresh file and a list whose second migration fails half-way: nothing at all is applied,
  // not even 0001, and not the first statement of the failing file.
  std::vector<Migration> broken =
      ExtendedMigrations("CREATE TABLE half_done (x INTEGER); THIS IS NOT SQL;");
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(Options(), clock_, broken);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInternal) << store.status().ToString();
  EXPECT_NE(store.status().message().find("9999_test_extra.sql"), std::string::npos)
      << store.status().message();
  EXPECT_EQ(ReadSchemaVersion(path_).value(), 0);
  sqlite::Db raw = Raw();
  EXPECT_EQ(QueryText(raw, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), "0");

  // The embedded list still applies cleanly afterwards.
  EXPECT_TRUE(Open());
  EXPECT_EQ(ReadSchemaVersion(path_).value(), NewestEmbedded());
}

TEST_F(SqliteStoreTest, ReadSchemaVersionOfAMissingFileIsZeroAndCreatesNothing) {
  Result<int> v = ReadSchemaVersion(path_);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 0);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(SqliteStoreTest, RejectsBadOptions) {
  SqliteOptions o = Options();
  o.path = "";
  EXPECT_EQ(OpenSqliteStore(o, clock_).status().code(), StatusCode::kInvalidArgument);
  o.path = ":memory:";
  EXPECT_EQ(OpenSqliteStore(o, clock_).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.pool_size = 0;
  EXPECT_EQ(OpenSqliteStore(o, clock_).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsUnavailable) {
  std::filesystem::create_directories(dir_ + "/db");
  {
    std::ofstream out(path_, std::ios::binary);
    out << std::string(4096, 'x');
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(Options(), clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().ToString();
  EXPECT_NE(store.status().message().find("not a database"), std::string::npos)
      << "carries SQLite's message: " << store.status().message();
}

TEST_F(SqliteStoreTest, WritesFromAnotherStoreAreVisibleImmediately) {
  std::unique_ptr<Store> server = Open();
  std::unique_ptr<Store> cli = Open();
  ASSERT_TRUE(server && cli);
  User u;
  u.name = "alice";
  Result<User> alice = cli->CreateUser(u);
  ASSERT_TRUE(alice.ok());
  EnrolledCertificate c;
  c.user_id = alice->id;
  c.fingerprint_sha256 = "aa11";
  c.issuer_canonical = "cn=ca";
  c.serial = "01";
  ASSERT_TRUE(cli->EnrollCertificate(c).ok());

  for (int round = 0; round < 3; ++round) {
    // Exercise every pooled connection of the server before the change, so a stale snapshot or
    // a cache anywhere would show.
    for (int i = 0; i < 8; ++i) {
      ASSERT_FALSE(server->FindRevocation("aa11", "cn=ca", "01").value().has_value());
      ASSERT_FALSE(server->GetUser(alice->id).value()->disabled);
    }
    Revocation r;
    r.issuer_canonical = "cn=ca";
    r.serial = "01";
    r.fingerprint_sha256 = "aa11";
    r.reason = RevocationReason::kCertificateHold;
    r.source = "admin";
    ASSERT_TRUE(cli->AddRevocation(r).ok());
    ASSERT_TRUE(cli->SetUserDisabled(alice->id, true).ok());
    EXPECT_TRUE(server->FindRevocation("aa11", "", "").value().has_value());
    EXPECT_TRUE(server->GetUser(alice->id).value()->disabled);

    ASSERT_TRUE(cli->ReleaseHold("cn=ca", "01").ok());
    ASSERT_TRUE(cli->SetUserDisabled(alice->id, false).ok());
    EXPECT_FALSE(server->FindRevocation("aa11", "cn=ca", "01").value().has_value());
    EXPECT_FALSE(server->GetUser(alice->id).value()->disabled);
  }
}

TEST_F(SqliteStoreTest, WritesThroughARawConnectionAreVisibleImmediately) {
  std::unique_ptr<Store> server = Open();
  ASSERT_TRUE(server);
  ASSERT_FALSE(server->FindRevocation("", "cn=ca", "0f").value().has_value());
  sqlite::Db raw = Raw();
  ASSERT_TRUE(raw.Exec("INSERT INTO revocations (issuer_canonical, serial, reason, revoked_at, "
                       "source) VALUES ('cn=ca', '0f', 1, 5, 'admin')",
                       "insert")
                  .ok());
  Result<std::optional<Revocation>> r = server->FindRevocation("", "cn=ca", "0f");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->reason, RevocationReason::kKeyCompromise);
}

TEST_F(SqliteStoreTest, ReadScopeGivesTheThreadOneSnapshotUntilItEnds) {
  std::unique_ptr<Store> server = Open();
  std::unique_ptr<Store> cli = Open();
  ASSERT_TRUE(server && cli);
  User u;
  u.name = "alice";
  Result<User> alice = cli->CreateUser(u);
  ASSERT_TRUE(alice.ok());
  {
    std::unique_ptr<ReadScope> scope = server->BeginRead();
    ASSERT_NE(scope, nullptr);
    EXPECT_EQ(server->BeginRead(), nullptr) << "a nested scope is a no-op";
    // The snapshot starts with the first lookup.
    ASSERT_FALSE(server->GetUser(alice->id).value()->disabled);
    ASSERT_FALSE(server->FindRevocation("", "cn=ca", "01").value().has_value());
    // Another connection commits while the scope is open (it is not blocked by it).
    ASSERT_TRUE(cli->SetUserDisabled(alice->id, true).ok());
    Revocation r;
    r.issuer_canonical = "cn=ca";
    r.serial = "01";
    r.reason = RevocationReason::kKeyCompromise;
    r.source = "admin";
    ASSERT_TRUE(cli->AddRevocation(r).ok());
    // Inside the scope: still the snapshot, for every lookup.
    EXPECT_FALSE(server->GetUser(alice->id).value()->disabled);
    EXPECT_FALSE(server->FindRevocation("", "cn=ca", "01").value().has_value());
    // Another thread of the same store is not in the scope: it sees the commit.
    std::thread other([&] {
      EXPECT_TRUE(server->GetUser(alice->id).value()->disabled);
      EXPECT_TRUE(server->FindRevocation("", "cn=ca", "01").value().has_value());
    });
    other.join();
  }
  // After the scope: the latest data again.
  EXPECT_TRUE(server->GetUser(alice->id).value()->disabled);
  EXPECT_TRUE(server->FindRevocation("", "cn=ca", "01").value().has_value());
  // And writes work on this thread (the scope's connection went back to the pool, idle).
  EXPECT_TRUE(server->SetUserDisabled(alice->id, false).ok());
  EXPECT_FALSE(server->GetUser(alice->id).value()->disabled);
}

// A connection the pool opens after the file was deleted or replaced must not open (or create) a
// different database: that one has no tables, or other data.
TEST_F(SqliteStoreTest, ConnectionsOpenedAfterTheFileWasDeletedOrReplacedAreRefused) {
  for (bool replace : {false, true}) {
    SCOPED_TRACE(replace ? "replaced" : "deleted");
    std::unique_ptr<Store> store = Open();
    ASSERT_TRUE(store);
    User u;
    u.name = "alice";
    ASSERT_TRUE(store->CreateUser(u).ok());
    ASSERT_TRUE(std::filesystem::remove(path_));
    if (replace) {
      std::unique_ptr<Store> other = Open();  // a new, empty database at the same path
      ASSERT_TRUE(other);
    }
    // This thread pins the pool's only open connection; the other thread needs a new one.
    std::unique_ptr<ReadScope> scope = store->BeginRead();
    if (!replace) {
      // The open connection still reads the unlinked file (the audit commit is what refuses).
      Result<std::optional<User>> pinned = store->GetUserByName("alice");
      ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
    }
    std::thread other([&] {
      Result<std::optional<User>> r = store->GetUserByName("alice");
      EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
    });
    other.join();
    EXPECT_EQ(std::filesystem::exists(path_), replace) << "no new file is created at the path";
    scope.reset();
    store.reset();
    std::filesystem::remove(path_);
  }
}

TEST_F(SqliteStoreTest, ReadScopesOnManyThreadsDoNotExhaustThePool) {
  SqliteOptions o = Options();
  o.pool_size = 2;
  std::unique_ptr<Store> store = Open(o);
  ASSERT_TRUE(store);
  User u;
  u.name = "bob";
  Result<User> bob = store->CreateUser(u);
  ASSERT_TRUE(bob.ok());
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        std::unique_ptr<ReadScope> scope = store->BeginRead();
        Result<std::optional<User>> got = store->GetUser(bob->id);
        if (!got.ok() || !got->has_value()) ++errors;
        if (!store->FindRevocation("", "cn=ca", "02").ok()) ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
}

TEST_F(SqliteStoreTest, ConcurrentReadersAndWritersSeeNoErrors) {
  SqliteOptions o = Options();
  o.pool_size = 3;  // fewer connections than threads: callers also queue for the pool
  std::unique_ptr<Store> store = Open(o);
  std::unique_ptr<Store> other = Open();  // a second "process" writing the same file
  ASSERT_TRUE(store && other);
  User u;
  u.name = "shared";
  Result<User> shared = store->CreateUser(u);
  ASSERT_TRUE(shared.ok());

  constexpr int kWriters = 4;
  constexpr int kReaders = 4;
  constexpr int kOpsPerWriter = 25;
  std::atomic<int> errors{0};
  std::atomic<int> writers_left{kWriters};
  std::mutex error_mu;
  std::string first_error;
  auto check = [&](const Status& s) {
    if (s.ok()) return;
    errors.fetch_add(1);
    std::lock_guard<std::mutex> lock(error_mu);
    if (first_error.empty()) first_error = s.ToString();
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      Store& s = (w % 2 == 0) ? *store : *other;
      for (int i = 0; i < kOpsPerWriter; ++i) {
        std::string tag = std::to_string(w) + "-" + std::to_string(i);
        User nu;
        nu.name = "user-" + tag;
        nu.roles = {"r"};
        check(StatusOf(s.CreateUser(nu)));
        EnrolledCertificate c;
        c.user_id = shared->id;
        c.fingerprint_sha256 = "fp-" + tag;
        c.issuer_canonical = "cn=ca";
        c.subject_canonical = "cn=shared";
        c.serial = tag;
        check(StatusOf(s.EnrollCertificate(c)));
        std::vector<AuditEvent> events = {MakeEvent("a-" + tag), MakeEvent("b-" + tag)};
        check(s.AppendAudit(events));
        Revocation r;
        r.issuer_canonical = "cn=ca";
        r.serial = tag;
        r.source = "admin";
        check(s.AddRevocation(r));
      }
      writers_left.fetch_sub(1);
    });
  }
  std::atomic<int> reads{0};
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      while (writers_left.load() > 0) {
        check(StatusOf(store->FindCertificateByFingerprint("fp-0-0")));
        check(StatusOf(store->FindCertificatesBySubjectSerial("cn=shared", "1-1")));
        check(StatusOf(store->QueryAudit({})));
        check(StatusOf(store->ListUsers()));
        check(StatusOf(store->GetUserByName("user-2-3")));
        check(StatusOf(store->FindRevocation("", "cn=ca", "1-1")));
        reads.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store->ListUsers()->size(), 1u + kWriters * kOpsPerWriter);
  EXPECT_EQ(store->ListCertificates(std::nullopt)->size(), 1u * kWriters * kOpsPerWriter);
  AuditQuery all;
  all.limit = 1000;
  EXPECT_EQ(store->QueryAudit(all)->size(), 2u * kWriters * kOpsPerWriter);
}

TEST_F(SqliteStoreTest, AppendAuditBatchIsAtomic) {
  std::unique_ptr<Store> store = Open();
  ASSERT_TRUE(store);
  // A trigger that rejects one particular row, installed behind the store's back: the failure
  // happens in the middle of the batch, after earlier rows were inserted in the transaction.
  sqlite::Db raw = Raw();
  ASSERT_TRUE(raw.Exec("CREATE TRIGGER poison BEFORE INSERT ON audit_events "
                       "WHEN NEW.message = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END",
                       "trigger")
                  .ok());
  std::vector<AuditEvent> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(MakeEvent("r" + std::to_string(i)));
  batch[3].message = "poison";
  Status s = store->AppendAudit(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInternal) << s.ToString();
  EXPECT_NE(s.message().find("poisoned row"), std::string::npos) << s.message();
  for (const AuditEvent& e : batch) EXPECT_EQ(e.id, 0) << "no id for an uncommitted row";
  EXPECT_TRUE(store->QueryAudit({})->empty()) << "rows 0-2 were rolled back";

  // The same connection is healthy afterwards (no transaction left open).
  batch[3].message = "fine";
  ASSERT_TRUE(store->AppendAudit(batch).ok());
  EXPECT_EQ(store->QueryAudit({})->size(), 5u);
}

TEST_F(SqliteStoreTest, ReadOnlyStoreServesReadsAndFailsWritesWithUnavailable) {
  // We run tests as root in CI containers, where chmod does not stop writes, so read-only is
  // forced with SQLITE_OPEN_READONLY (SqliteOptions::read_only). The permission-based variant
  // below runs when not root.
  {
    std::unique_ptr<Store> writer = Open();
    ASSERT_TRUE(writer);
    User u;
    u.name = "alice";
    ASSERT_TRUE(writer->CreateUser(u).ok());
  }
  SqliteOptions o = Options();
  o.read_only = true;
  std::unique_ptr<Store> store = Open(o);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->Ping().ok());
  EXPECT_TRUE(store->GetUserByName("alice").value().has_value());

  User u;
  u.name = "bob";
  Result<User> created = store->CreateUser(u);
  EXPECT_EQ(created.status().code(), StatusCode::kUnavailable) << created.status().ToString();
  EXPECT_NE(created.status().message().find("readonly"), std::string::npos)
      << created.status().message();
  std::vector<AuditEvent> batch = {MakeEvent("r1"), MakeEvent("r2")};
  EXPECT_EQ(store->AppendAudit(batch).code(), StatusCode::kUnavailable);
  EXPECT_EQ(batch[0].id, 0);
  Revocation r;
  r.issuer_canonical = "cn=ca";
  r.serial = "01";
  EXPECT_EQ(store->AddRevocation(r).code(), StatusCode::kUnavailable);
  EXPECT_EQ(store->SetUserDisabled(1, true).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(store->QueryAudit({})->empty());
}

TEST_F(SqliteStoreTest, ReadOnlyFilePermissionsGiveUnavailable) {
  if (geteuid() == 0) {
    GTEST_SKIP() << "root ignores file permissions; ReadOnlyStoreServesReadsAndFailsWrites... "
                    "covers this with SQLITE_OPEN_READONLY";
  }
  { ASSERT_TRUE(Open()); }
  ASSERT_EQ(chmod(path_.c_str(), 0444), 0);
  ASSERT_EQ(chmod((dir_ + "/db").c_str(), 0555), 0);
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(Options(), clock_);
  if (store.ok()) {
    User u;
    u.name = "bob";
    EXPECT_EQ((*store)->CreateUser(u).status().code(), StatusCode::kUnavailable);
  } else {
    EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().ToString();
  }
  chmod((dir_ + "/db").c_str(), 0755);
  chmod(path_.c_str(), 0644);
}

TEST_F(SqliteStoreTest, WriterBlockedByAnotherConnectionIsUnavailableAfterBusyTimeout) {
  SqliteOptions o = Options();
  o.busy_timeout_ms = 50;
  std::unique_ptr<Store> store = Open(o);
  ASSERT_TRUE(store);
  User u;
  u.name = "alice";
  ASSERT_TRUE(store->CreateUser(u).ok());

  sqlite::Db raw = Raw();
  Result<sqlite::Txn> hold = sqlite::Txn::Begin(raw.get(), sqlite::Txn::Mode::kImmediate);
  ASSERT_TRUE(hold.ok()) << hold.status().ToString();

  u.name = "bob";
  Result<User> blocked = store->CreateUser(u);
  EXPECT_EQ(blocked.status().code(), StatusCode::kUnavailable) << blocked.status().ToString();
  std::vector<AuditEvent> batch = {MakeEvent("r1")};
  EXPECT_EQ(store->AppendAudit(batch).code(), StatusCode::kUnavailable);
  // WAL: readers are not blocked by the writer.
  EXPECT_TRUE(store->GetUserByName("alice").value().has_value());

  hold = Status::Internal("released");  // rolls the raw transaction back
  EXPECT_TRUE(store->CreateUser(u).ok());
}

TEST_F(SqliteStoreTest, ReopensAfterAbandonedWriteTransaction) {
  std::unique_ptr<Store> store = Open();
  ASSERT_TRUE(store);
  {
    sqlite::Db raw = Raw();
    Result<sqlite::Txn> txn = sqlite::Txn::Begin(raw.get());
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(raw.Exec("INSERT INTO users (name, created_at) VALUES ('ghost', 1)", "i").ok());
    // Neither committed nor explicitly rolled back: the Txn destructor rolls back.
  }
  EXPECT_FALSE(store->GetUserByName("ghost").value().has_value());
}

}  // namespace
}  // namespace certgate::store
