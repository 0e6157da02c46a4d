// SQLite implementation of Store; see sqlite_store.h and DESIGN.md "Storage".
//
// Concurrency model: a pool of connections (ConnPool) handed out one per call. Each connection
// caches its own prepared statements, so readers on different threads never share a mutex beyond
// the brief pool checkout. WAL lets those readers run while one writer commits; writers take the
// write lock up front (BEGIN IMMEDIATE) and wait up to busy_timeout_ms for each other.
//
// Freshness: nothing is cached above SQLite. Every statement is reset as soon as its call ends
// (StmtScope), so no connection keeps an old read snapshot; a commit made by another connection
// or process (e.g. the CLI revoking a certificate directly) is visible to the very next call.
#include "server/store/sqlite_store.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "server/store/sqlite_util.h"
#include "server/store/store_util.h"

#define STORE_CONCAT_INNER(a, b) a##b
#define STORE_CONCAT(a, b) STORE_CONCAT_INNER(a, b)
// Evaluates `expr` (a Result<T>); returns its Status from the enclosing function on error,
// otherwise move-assigns the value to `lhs` (which may be a declaration).
#define STORE_ASSIGN_OR_RETURN(lhs, expr) \
  STORE_ASSIGN_OR_RETURN_IMPL(STORE_CONCAT(store_result_, __LINE__), lhs, expr)
#define STORE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

namespace certgate::store {
namespace {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::StmtScope;
using sqlite::Txn;

std::shared_ptr<spdlog::logger> Logger() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("store");
  return logger ? logger : spdlog::default_logger();
}

// --- connections and the pool ---

// One SQLite connection plus the statements prepared on it. Used by one thread at a time.
class Conn {
 public:
  explicit Conn(Db db) : db_(std::move(db)) {}

  sqlite3* db() const { return db_.get(); }
  Db& handle() { return db_; }

  // A cached statement for fixed SQL text (prepared on first use, kept for the connection's
  // life). The caller must Reset() it before returning the connection (use StmtScope).
  Result<Stmt*> Prepare(std::string_view sql) { return PrepareIn(statements_, sql); }

  // Like Prepare, for SQL assembled at run time (audit queries: one text per filter combination).
  // That cache is bounded; when full it is emptied, which finalizes those statements, so at most
  // one dynamic statement may be in use at a time.
  Result<Stmt*> PrepareDynamic(const std::string& sql) {
    if (dynamic_statements_.size() >= kMaxDynamicStatements &&
        dynamic_statements_.find(sql) == dynamic_statements_.end()) {
      dynamic_statements_.clear();
    }
    return PrepareIn(dynamic_statements_, sql);
  }

 private:
  static constexpr size_t kMaxDynamicStatements = 64;
  using Cache = std::unordered_map<std::string, std::unique_ptr<Stmt>>;

  Result<Stmt*> PrepareIn(Cache& cache, std::string_view sql) {
    std::string key(sql);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second.get();
    STORE_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_.get(), sql, /*persistent=*/true));
    auto owned = std::make_unique<Stmt>(std::move(stmt));
    Stmt* raw = owned.get();
    cache.emplace(std::move(key), std::move(owned));
    return raw;
  }

  // Declared first so it is destroyed last: statements must be finalized before the close.
  Db db_;
  Cache statements_;
  Cache dynamic_statements_;
};

// Opens and configures one connection (not migrations; see Migrate). Only the first connection
// may create the file: a later one that found it missing would open a new, empty database.
Result<std::unique_ptr<Conn>> OpenConn(const SqliteOptions& options, bool create) {
  int flags = options.read_only ? SQLITE_OPEN_READONLY
                                : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  STORE_ASSIGN_OR_RETURN(Db db, Db::Open(options.path, flags));
  sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
  // Per-connection settings (not stored in the file).
  CERTGATE_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = ON", "cannot enable foreign keys"));
  CERTGATE_RETURN_IF_ERROR(db.Exec(
      options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
      "cannot set synchronous mode"));
  // PRAGMA arguments cannot be bound; both are integers we produced.
  CERTGATE_RETURN_IF_ERROR(
      db.Exec("PRAGMA cache_size = -" + std::to_string(std::max(options.cache_size_kib, 0)),
              "cannot set cache_size"));
  CERTGATE_RETURN_IF_ERROR(
      db.Exec("PRAGMA mmap_size = " + std::to_string(std::max<int64_t>(options.mmap_size, 0)),
              "cannot set mmap_size"));
  return std::make_unique<Conn>(std::move(db));
}

// Hands out connections, opening new ones lazily up to pool_size. Thread-safe.
class ConnPool {
 public:
  // Returns its connection to the pool on destruction (unless it is a read scope's pinned
  // connection, which the scope returns). Move-only.
  class Lease {
   public:
    Lease(ConnPool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    explicit Lease(Conn* pinned) : pool_(nullptr), pinned_(pinned) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->Release(std::move(conn_));
    }
    Conn& operator*() { return conn_ ? *conn_ : *pinned_; }
    Conn* operator->() { return conn_ ? conn_.get() : pinned_; }

   private:
    ConnPool* pool_;
    std::unique_ptr<Conn> conn_;
    Conn* pinned_ = nullptr;
  };

  // The connection a read scope pinned on this thread for this pool, or nullptr.
  Conn* Pinned() const { return tls_pin_.pool == this ? tls_pin_.conn : nullptr; }
  void Pin(Conn* conn) { tls_pin_ = {this, conn}; }
  void Unpin() { tls_pin_ = {nullptr, nullptr}; }

  ConnPool(SqliteOptions options, std::unique_ptr<Conn> first)
      : options_(std::move(options)), open_(1) {
    free_.push_back(std::move(first));
    struct stat st {};
    if (::stat(options_.path.c_str(), &st) == 0) {
      dev_ = st.st_dev;
      ino_ = st.st_ino;
    }
  }

  // Unavailable if the file at the path is not the one the first connection opened (deleted or
  // replaced): SQLite would go on using the unlinked file, and a new connection would open the
  // replacement.
  Status CheckFile() const {
    struct stat st {};
    if (::stat(options_.path.c_str(), &st) != 0) {
      return Status::Unavailable("database file " + options_.path +
                                 " is gone (deleted while certgate runs)");
    }
    if (st.st_dev != dev_ || st.st_ino != ino_) {
      return Status::Unavailable("database file " + options_.path +
                                 " was replaced while certgate runs");
    }
    return Status::Ok();
  }

  // Blocks while every connection is in use. Unavailable if a new connection cannot be opened.
  Result<Lease> Acquire() {
    if (Conn* pinned = Pinned()) return Lease(pinned);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty() || open_ < options_.pool_size; });
    if (!free_.empty()) {
      std::unique_ptr<Conn> conn = std::move(free_.back());
      free_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;  // reserve the slot, then open without holding the lock
    lock.unlock();
    Result<std::unique_ptr<Conn>> conn = OpenConn(options_, /*create=*/false);
    if (conn.ok()) {
      // Opened the file the store was opened on, not one put in its place since.
      if (Status same = CheckFile(); !same.ok()) conn = same;
    }
    if (!conn.ok()) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return conn.status();
    }
    return Lease(this, std::move(conn).value());
  }

 private:
  void Release(std::unique_ptr<Conn> conn) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(conn));
    cv_.notify_one();
  }

  const SqliteOptions options_;
  dev_t dev_ = 0;  // identity of the file the first connection opened
  ino_t ino_ = 0;

  struct PinSlot {
    const ConnPool* pool = nullptr;
    Conn* conn = nullptr;
  };
  static thread_local PinSlot tls_pin_;

  std::mutex mu_;
  std::condition_variable cv_;  // signalled when a connection is returned or a slot frees up
  // Guarded by mu_:
  std::vector<std::unique_ptr<Conn>> free_;  // idle connections
  int open_;                                 // connections that exist (idle + leased)
};

thread_local ConnPool::PinSlot ConnPool::tls_pin_;

// A read transaction on one pooled connection, pinned to this thread so that the store's
// lookups use it (see Store::BeginRead).
class SqliteReadScope final : public ReadScope {
 public:
  SqliteReadScope(ConnPool& pool, ConnPool::Lease lease) : pool_(pool), lease_(std::move(lease)) {
    Result<Stmt*> begin = lease_->Prepare("BEGIN");
    if (!begin.ok()) return;
    StmtScope s(**begin);
    if (!s->Run().ok()) return;
    open_ = true;
    pool_.Pin(&*lease_);
  }
  ~SqliteReadScope() override {
    if (!open_) return;
    pool_.Unpin();
    // A read transaction has nothing to lose: COMMIT just ends it (ROLLBACK if that fails).
    Result<Stmt*> commit = lease_->Prepare("COMMIT");
    bool ended = false;
    if (commit.ok()) {
      StmtScope s(**commit);
      ended = s->Run().ok();
    }
    if (!ended && sqlite3_get_autocommit(lease_->db()) == 0) {
      sqlite3_exec(lease_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

 private:
  ConnPool& pool_;
  ConnPool::Lease lease_;
  bool open_ = false;
};

// --- schema migrations ---

constexpr std::string_view kCreateSchemaVersion =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at INTEGER NOT NULL)";

// max(schema_version.version, PRAGMA user_version); 0 for a fresh file. Both are written together;
// taking the larger one means a file touched by a newer binary is never mistaken for an older one.
Result<int> ReadVersion(sqlite3* db) {
  int version = 0;
  {
    STORE_ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(db, "PRAGMA user_version", false));
    STORE_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) version = static_cast<int>(st.ColumnInt64(0));
  }
  STORE_ASSIGN_OR_RETURN(
      Stmt exists,
      Stmt::Prepare(db,
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                    false));
  STORE_ASSIGN_OR_RETURN(bool has_table, exists.Step());
  if (has_table) {
    STORE_ASSIGN_OR_RETURN(Stmt st,
                           Stmt::Prepare(db, "SELECT max(version) FROM schema_version", false));
    STORE_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row && !st.ColumnIsNull(0))
      version = std::max(version, static_cast<int>(st.ColumnInt64(0)));
  }
  return version;
}

Status ValidateMigrationList(const std::vector<Migration>& migrations) {
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      return Status::Internal("migration list is not strictly increasing at " + m.name);
    }
    previous = m.version;
  }
  return Status::Ok();
}

Status NewerSchemaError(const std::string& path, int file_version, int known_version) {
  return Status::FailedPrecondition(
      "database " + path + " has schema version " + std::to_string(file_version) +
      ", newer than the newest this binary knows (" + std::to_string(known_version) +
      "); upgrade certgate instead of running an older binary against it");
}

// Applies every migration newer than the file's version, all in ONE transaction together with
// the bookkeeping, so a crash leaves either the old schema or the new one, never a mix.
Status Migrate(Conn& conn, const SqliteOptions& options, const Clock& clock,
               const std::vector<Migration>& migrations) {
  CERTGATE_RETURN_IF_ERROR(ValidateMigrationList(migrations));
  const int known = migrations.empty() ? 0 : migrations.back().version;

  if (options.read_only || !options.apply_migrations) {
    STORE_ASSIGN_OR_RETURN(int version, ReadVersion(conn.db()));
    if (version > known) return NewerSchemaError(options.path, version, known);
    if (options.read_only && options.apply_migrations && version < known) {
      return Status::FailedPrecondition("database " + options.path + " has schema version " +
                                        std::to_string(version) + ", older than " +
                                        std::to_string(known) + ", and is opened read-only");
    }
    return Status::Ok();
  }

  // BEGIN IMMEDIATE before reading the version: two processes starting together serialise here,
  // and the second one sees the first one's work.
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn.db(), Txn::Mode::kImmediate));
  STORE_ASSIGN_OR_RETURN(int version, ReadVersion(conn.db()));
  if (version > known) return NewerSchemaError(options.path, version, known);
  if (version == known) return Status::Ok();  // nothing to do; the transaction rolls back

  CERTGATE_RETURN_IF_ERROR(
      conn.handle().Exec(kCreateSchemaVersion, "cannot create schema_version"));
  std::vector<std::string> applied;
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    CERTGATE_RETURN_IF_ERROR(conn.handle().Exec(m.sql, "migration " + m.name + " failed"));
    STORE_ASSIGN_OR_RETURN(
        Stmt record,
        Stmt::Prepare(conn.db(),
                      "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
                      false));
    record.BindInt64(1, m.version);
    record.BindText(2, m.name);
    record.BindInt64(3, clock.NowMicros());
    CERTGATE_RETURN_IF_ERROR(record.Run());
    applied.push_back(m.name);
  }
  // PRAGMA arguments cannot be bound; `known` is an int we produced.
  CERTGATE_RETURN_IF_ERROR(conn.handle().Exec("PRAGMA user_version = " + std::to_string(known),
                                              "cannot record user_version"));
  CERTGATE_RETURN_IF_ERROR(txn.Commit());
  for (const std::string& name : applied) {
    Logger()->info("applied migration {} to {}", name, options.path);
  }
  Logger()->info("database {} is at schema version {} (was {})", options.path, known, version);
  return Status::Ok();
}

// --- row mapping ---

#define USER_COLUMNS "id, name, display_name, disabled, created_at"
#define USER_COLUMNS_U "u.id, u.name, u.display_name, u.disabled, u.created_at"
#define CERT_COLUMNS                                                                       \
  "id, user_id, fingerprint_sha256, issuer_canonical, subject_canonical, issuer_display, " \
  "subject_display, serial, not_before, not_after, der, spki_sha256, created_at"
#define REVOCATION_COLUMNS \
  "id, issuer_canonical, serial, fingerprint_sha256, reason, revoked_at, source"
// Everything but der (see CrlInfo).
#define CRL_INFO_COLUMNS                                                         \
  "id, issuer_canonical, issuer_display, crl_number, this_update, next_update, " \
  "fingerprint_sha256, entry_count, imported_at"
#define AUDIT_COLUMNS                                                                          \
  "id, time, kind, request_id, caller, fingerprint_sha256, subject, issuer, serial, user_id, " \
  "user_name, decision, reason, action, resource, message"

User ReadUser(const Stmt& st) {
  User u;
  u.id = st.ColumnInt64(0);
  u.name = st.ColumnText(1);
  u.display_name = st.ColumnText(2);
  u.disabled = st.ColumnInt64(3) != 0;
  u.created_at = st.ColumnInt64(4);
  return u;
}

EnrolledCertificate ReadCertificate(const Stmt& st) {
  EnrolledCertificate c;
  c.id = st.ColumnInt64(0);
  c.user_id = st.ColumnInt64(1);
  c.fingerprint_sha256 = st.ColumnText(2);
  c.issuer_canonical = st.ColumnText(3);
  c.subject_canonical = st.ColumnText(4);
  c.issuer_display = st.ColumnText(5);
  c.subject_display = st.ColumnText(6);
  c.serial = st.ColumnText(7);
  c.not_before = st.ColumnInt64(8);
  c.not_after = st.ColumnInt64(9);
  c.der = st.ColumnBlob(10);
  c.spki_sha256 = st.ColumnText(11);
  c.created_at = st.ColumnInt64(12);
  return c;
}

CrlInfo ReadCrlInfo(const Stmt& st) {
  CrlInfo c;
  c.id = st.ColumnInt64(0);
  c.issuer_canonical = st.ColumnText(1);
  c.issuer_display = st.ColumnText(2);
  c.crl_number = st.ColumnText(3);
  c.this_update = st.ColumnInt64(4);
  c.next_update = st.ColumnInt64(5);
  c.fingerprint_sha256 = st.ColumnText(6);
  c.entry_count = st.ColumnInt64(7);
  c.imported_at = st.ColumnInt64(8);
  return c;
}

Revocation ReadRevocation(const Stmt& st) {
  Revocation r;
  r.id = st.ColumnInt64(0);
  r.issuer_canonical = st.ColumnText(1);
  r.serial = st.ColumnText(2);
  r.fingerprint_sha256 = st.ColumnText(3);
  r.reason = static_cast<RevocationReason>(st.ColumnInt64(4));
  r.revoked_at = st.ColumnInt64(5);
  r.source = st.ColumnText(6);
  return r;
}

Result<AuditEvent> ReadAuditEvent(const Stmt& st) {
  AuditEvent e;
  e.id = st.ColumnInt64(0);
  e.time = st.ColumnInt64(1);
  e.kind = st.ColumnText(2);
  e.request_id = st.ColumnText(3);
  e.caller = st.ColumnText(4);
  e.fingerprint_sha256 = st.ColumnText(5);
  e.subject = st.ColumnText(6);
  e.issuer = st.ColumnText(7);
  e.serial = st.ColumnText(8);
  if (!st.ColumnIsNull(9)) e.user_id = st.ColumnInt64(9);
  e.user_name = st.ColumnText(10);
  std::string decision = st.ColumnText(11);
  if (decision == "ALLOW") {
    e.decision = Decision::kAllow;
  } else if (decision == "DENY") {
    e.decision = Decision::kDeny;
  } else {
    return Status::Internal("audit row " + std::to_string(e.id) + " has unknown decision '" +
                            decision + "'");
  }
  std::string reason = st.ColumnText(12);
  std::optional<Reason> parsed = ParseReason(reason);
  if (!parsed) {
    return Status::Internal("audit row " + std::to_string(e.id) + " has unknown reason '" + reason +
                            "'");
  }
  e.reason = *parsed;
  e.action = st.ColumnText(13);
  e.resource = st.ColumnText(14);
  e.message = st.ColumnText(15);
  return e;
}

// --- the store ---

// Thread-safe: all state is in the pool (which is) and SQLite.
class SqliteStore final : public Store {
 public:
  SqliteStore(const SqliteOptions& options, const Clock& clock, std::unique_ptr<Conn> first)
      : clock_(clock),
        pool_(options, std::move(first)),
        path_(options.path),
        read_only_(options.read_only) {}

  Result<User> CreateUser(const User& user) override;
  Result<std::optional<User>> GetUser(int64_t id) override;
  Result<std::optional<User>> GetUserByName(const std::string& name) override;
  Result<std::vector<User>> ListUsers() override;
  Status SetUserDisabled(int64_t user_id, bool disabled) override;
  Status SetUserRoles(int64_t user_id, const std::vector<std::string>& roles) override;

  Result<EnrolledCertificate> EnrollCertificate(const EnrolledCertificate& cert) override;
  Result<std::optional<EnrolledCertificate>> FindCertificateByFingerprint(
      const std::string& fingerprint_sha256) override;
  Result<std::vector<EnrolledCertificate>> FindCertificatesBySubjectSerial(
      const std::string& subject_canonical, const std::string& serial) override;
  Result<std::optional<EnrolledCertificate>> FindCertificateByIssuerSerial(
      const std::string& issuer_canonical, const std::string& serial) override;
  Result<std::vector<EnrolledCertificate>> ListCertificates(std::optional<int64_t> user_id,
                                                            int64_t after_id = 0,
                                                            int limit = 0) override;
  Result<std::optional<EnrolledCertificate>> GetCertificate(int64_t id) override;
  Result<std::vector<EnrolledCertificate>> FindCertificatesBySpki(
      const std::string& spki_sha256) override;

  Status AddRevocation(const Revocation& revocation) override;
  Status ReleaseHold(const std::string& issuer_canonical, const std::string& serial) override;
  Result<std::optional<Revocation>> FindRevocation(const std::string& fingerprint_sha256,
                                                   const std::string& issuer_canonical,
                                                   const std::string& serial) override;

  Result<CrlInfo> ImportCrl(const CrlInfo& crl, const std::vector<CrlEntry>& entries) override;
  Result<std::vector<CrlInfo>> ListCrls() override;
  Result<std::optional<CrlInfo>> GetCrlInfo(const std::string& issuer_canonical) override;
  Result<std::optional<CrlEntry>> FindCrlEntry(const std::string& issuer_canonical,
                                               const std::string& serial) override;

  Status AppendAudit(std::vector<AuditEvent>& events) override;
  Result<std::vector<AuditEvent>> QueryAudit(const AuditQuery& query) override;
  Result<int64_t> DeleteAuditBefore(int64_t before_micros, int limit) override;

  Status Ping() override;

  std::unique_ptr<ReadScope> BeginRead() override {
    if (pool_.Pinned() != nullptr) return nullptr;  // already inside a scope on this thread
    Result<ConnPool::Lease> lease = pool_.Acquire();
    if (!lease.ok()) return nullptr;  // each lookup then reports the error itself
    return std::make_unique<SqliteReadScope>(pool_, std::move(lease).value());
  }

 private:
  // The user with `sql` (which selects USER_COLUMNS then a role column, one row per role or one
  // row with a NULL role, and binds ?1 via `bind`) and its roles.
  template <typename Bind>
  Result<std::optional<User>> GetUserWhere(std::string_view sql, Bind bind);
  static Status UserExists(Conn& conn, int64_t user_id);
  static Status InsertRoles(Conn& conn, int64_t user_id, const std::vector<std::string>& roles);

  // Unavailable if the file at path_ is not the one opened (deleted or replaced).
  Status CheckFile() const;

  const Clock& clock_;
  ConnPool pool_;
  const std::string path_;
  const bool read_only_;
};

Status SqliteStore::UserExists(Conn& conn, int64_t user_id) {
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn.Prepare("SELECT 1 FROM users WHERE id = ?1"));
  StmtScope s(*st);
  s->BindInt64(1, user_id);
  STORE_ASSIGN_OR_RETURN(bool found, s->Step());
  if (!found) return Status::NotFound("no user with id " + std::to_string(user_id));
  return Status::Ok();
}

Status SqliteStore::InsertRoles(Conn& conn, int64_t user_id,
                                const std::vector<std::string>& roles) {
  STORE_ASSIGN_OR_RETURN(Stmt * st,
                         conn.Prepare("INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)"));
  for (const std::string& role : roles) {
    StmtScope s(*st);
    s->BindInt64(1, user_id);
    s->BindText(2, role);
    CERTGATE_RETURN_IF_ERROR(s->Run());
  }
  return Status::Ok();
}

Result<User> SqliteStore::CreateUser(const User& user) {
  CERTGATE_RETURN_IF_ERROR(internal::ValidateUser(user));
  STORE_ASSIGN_OR_RETURN(std::vector<std::string> roles, internal::NormalizeRoles(user.roles));
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn->db()));
  User stored = user;
  stored.roles = std::move(roles);
  stored.created_at = clock_.NowMicros();
  {
    STORE_ASSIGN_OR_RETURN(
        Stmt * st, conn->Prepare("INSERT INTO users (name, display_name, disabled, created_at) "
                                 "VALUES (?1, ?2, ?3, ?4)"));
    StmtScope s(*st);
    s->BindText(1, stored.name);
    s->BindText(2, stored.display_name);
    s->BindInt64(3, stored.disabled ? 1 : 0);
    s->BindInt64(4, stored.created_at);
    Status status = s->Run();
    if (!status.ok()) {
      if (sqlite::IsUniqueViolation(s->last_rc())) {
        return Status::AlreadyExists("user '" + stored.name + "' already exists");
      }
      return status;
    }
    stored.id = sqlite3_last_insert_rowid(conn->db());
  }
  CERTGATE_RETURN_IF_ERROR(InsertRoles(*conn, stored.id, stored.roles));
  CERTGATE_RETURN_IF_ERROR(txn.Commit());
  return stored;
}

template <typename Bind>
Result<std::optional<User>> SqliteStore::GetUserWhere(std::string_view sql, Bind bind) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  // One statement (the user LEFT JOIN its roles, one row per role) is one read snapshot: no
  // BEGIN/COMMIT round trip on this per-request path.
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare(sql));
  StmtScope s(*st);
  bind(*s);
  std::optional<User> user;
  while (true) {
    STORE_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    if (!user) user = ReadUser(*s);
    if (!s->ColumnIsNull(5)) user->roles.push_back(s->ColumnText(5));
  }
  return user;
}

Result<std::optional<User>> SqliteStore::GetUser(int64_t id) {
  return GetUserWhere("SELECT " USER_COLUMNS_U
                      ", r.role FROM users u LEFT JOIN user_roles r "
                      "ON r.user_id = u.id WHERE u.id = ?1 ORDER BY r.role",
                      [id](Stmt& st) { st.BindInt64(1, id); });
}

Result<std::optional<User>> SqliteStore::GetUserByName(const std::string& name) {
  return GetUserWhere("SELECT " USER_COLUMNS_U
                      ", r.role FROM users u LEFT JOIN user_roles r "
                      "ON r.user_id = u.id WHERE u.name = ?1 ORDER BY r.role",
                      [&name](Stmt& st) { st.BindText(1, name); });
}

Result<std::vector<User>> SqliteStore::ListUsers() {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn->db(), Txn::Mode::kDeferred));
  std::vector<User> users;
  std::map<int64_t, size_t> index;
  {
    STORE_ASSIGN_OR_RETURN(Stmt * st,
                           conn->Prepare("SELECT " USER_COLUMNS " FROM users ORDER BY id"));
    StmtScope s(*st);
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      index[s->ColumnInt64(0)] = users.size();
      users.push_back(ReadUser(*s));
    }
  }
  STORE_ASSIGN_OR_RETURN(
      Stmt * st, conn->Prepare("SELECT user_id, role FROM user_roles ORDER BY user_id, role"));
  StmtScope s(*st);
  while (true) {
    STORE_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    auto it = index.find(s->ColumnInt64(0));
    if (it != index.end()) users[it->second].roles.push_back(s->ColumnText(1));
  }
  return users;
}

Status SqliteStore::SetUserDisabled(int64_t user_id, bool disabled) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("UPDATE users SET disabled = ?2 WHERE id = ?1"));
  StmtScope s(*st);
  s->BindInt64(1, user_id);
  s->BindInt64(2, disabled ? 1 : 0);
  CERTGATE_RETURN_IF_ERROR(s->Run());
  if (sqlite3_changes(conn->db()) == 0) {
    return Status::NotFound("no user with id " + std::to_string(user_id));
  }
  return Status::Ok();
}

Status SqliteStore::SetUserRoles(int64_t user_id, const std::vector<std::string>& roles) {
  STORE_ASSIGN_OR_RETURN(std::vector<std::string> normalized, internal::NormalizeRoles(roles));
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn->db()));
  CERTGATE_RETURN_IF_ERROR(UserExists(*conn, user_id));
  {
    STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("DELETE FROM user_roles WHERE user_id = ?1"));
    StmtScope s(*st);
    s->BindInt64(1, user_id);
    CERTGATE_RETURN_IF_ERROR(s->Run());
  }
  CERTGATE_RETURN_IF_ERROR(InsertRoles(*conn, user_id, normalized));
  return txn.Commit();
}

Result<EnrolledCertificate> SqliteStore::EnrollCertificate(const EnrolledCertificate& cert) {
  CERTGATE_RETURN_IF_ERROR(internal::ValidateCertificate(cert));
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn->db()));
  // Checked first (the foreign key would also catch it) so that an unknown user is NotFound
  // even when the certificate is a duplicate too, as in MemoryStore.
  CERTGATE_RETURN_IF_ERROR(UserExists(*conn, cert.user_id));
  EnrolledCertificate stored = cert;
  stored.created_at = clock_.NowMicros();
  {
    STORE_ASSIGN_OR_RETURN(
        Stmt * st,
        conn->Prepare("INSERT INTO certificates (user_id, fingerprint_sha256, issuer_canonical, "
                      "subject_canonical, issuer_display, subject_display, serial, not_before, "
                      "not_after, der, spki_sha256, created_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
    StmtScope s(*st);
    s->BindInt64(1, stored.user_id);
    s->BindTextOrNull(2, stored.fingerprint_sha256);
    s->BindText(3, stored.issuer_canonical);
    s->BindText(4, stored.subject_canonical);
    s->BindText(5, stored.issuer_display);
    s->BindText(6, stored.subject_display);
    s->BindText(7, stored.serial);
    s->BindInt64(8, stored.not_before);
    s->BindInt64(9, stored.not_after);
    s->BindBlobOrNull(10, stored.der);
    s->BindTextOrNull(11, stored.spki_sha256);
    s->BindInt64(12, stored.created_at);
    Status status = s->Run();
    if (!status.ok()) {
      if (sqlite::IsUniqueViolation(s->last_rc())) {
        return Status::AlreadyExists("certificate already enrolled (" + status.message() + ")");
      }
      if (sqlite::IsForeignKeyViolation(s->last_rc())) {
        return Status::NotFound("no user with id " + std::to_string(stored.user_id));
      }
      return status;
    }
    stored.id = sqlite3_last_insert_rowid(conn->db());
  }
  CERTGATE_RETURN_IF_ERROR(txn.Commit());
  return stored;
}

Result<std::optional<EnrolledCertificate>> SqliteStore::FindCertificateByFingerprint(
    const std::string& fingerprint_sha256) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(
      Stmt * st,
      conn->Prepare("SELECT " CERT_COLUMNS " FROM certificates WHERE fingerprint_sha256 = ?1"));
  StmtScope s(*st);
  s->BindTextOrNull(1, fingerprint_sha256);  // NULL never matches: "" is not a fingerprint
  STORE_ASSIGN_OR_RETURN(bool found, s->Step());
  if (!found) return std::optional<EnrolledCertificate>();
  return std::optional<EnrolledCertificate>(ReadCertificate(*s));
}

Result<std::vector<EnrolledCertificate>> SqliteStore::FindCertificatesBySubjectSerial(
    const std::string& subject_canonical, const std::string& serial) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Stmt * st,
                         conn->Prepare("SELECT " CERT_COLUMNS " FROM certificates "
                                       "WHERE subject_canonical = ?1 AND serial = ?2 ORDER BY id"));
  StmtScope s(*st);
  s->BindText(1, subject_canonical);
  s->BindText(2, serial);
  std::vector<EnrolledCertificate> out;
  while (true) {
    STORE_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadCertificate(*s));
  }
  return out;
}

Result<std::optional<EnrolledCertificate>> SqliteStore::FindCertificateByIssuerSerial(
    const std::string& issuer_canonical, const std::string& serial) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("SELECT " CERT_COLUMNS " FROM certificates "
                                                  "WHERE issuer_canonical = ?1 AND serial = ?2"));
  StmtScope s(*st);
  s->BindText(1, issuer_canonical);
  s->BindText(2, serial);
  STORE_ASSIGN_OR_RETURN(bool found, s->Step());
  if (!found) return std::optional<EnrolledCertificate>();
  return std::optional<EnrolledCertificate>(ReadCertificate(*s));
}

Result<std::vector<EnrolledCertificate>> SqliteStore::ListCertificates(
    std::optional<int64_t> user_id, int64_t after_id, int limit) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  // LIMIT -1 is no limit. The id range keeps a page an index range scan however deep it is.
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("SELECT " CERT_COLUMNS " FROM certificates "
                                                  "WHERE (?1 IS NULL OR user_id = ?1) AND id > ?2 "
                                                  "ORDER BY id LIMIT ?3"));
  StmtScope s(*st);
  if (user_id) s->BindInt64(1, *user_id);  // unbound (cleared) parameters are NULL
  s->BindInt64(2, after_id);
  s->BindInt64(3, limit > 0 ? limit : -1);
  std::vector<EnrolledCertificate> out;
  while (true) {
    STORE_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadCertificate(*s));
  }
  return out;
}

Result<std::optional<EnrolledCertificate>> SqliteStore::GetCertificate(int64_t id) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Stmt * st,
                         conn->Prepare("SELECT " CERT_COLUMNS " FROM certificates WHERE id = ?1"));
  StmtScope s(*st);
  s->BindInt64(1, id);
  STORE_ASSIGN_OR_RETURN(bool found, s->Step());
  if (!found) return std::optional<EnrolledCertificate>();
  return std::optional<EnrolledCertificate>(ReadCertificate(*s));
}

Result<std::vector<EnrolledCertificate>> SqliteStore::FindCertificatesBySpki(
    const std::string& spki_sha256) {
  std::vector<EnrolledCertificate> out;
  if (spki_sha256.empty()) return out;
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("SELECT " CERT_COLUMNS " FROM certificates "
                                                  "WHERE spki_sha256 = ?1 ORDER BY id"));
  StmtScope s(*st);
  s->BindText(1, spki_sha256);
  while (true) {
    STORE_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadCertificate(*s));
  }
  return out;
}

Status SqliteStore::AddRevocation(const Revocation& revocation) {
  CERTGATE_RETURN_IF_ERROR(internal::ValidateRevocation(revocation));
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  // First revocation wins: a later one for the same (issuer, serial) is a no-op.
  STORE_ASSIGN_OR_RETURN(
      Stmt * st,
      conn->Prepare(
          "INSERT INTO revocations (issuer_canonical, serial, fingerprint_sha256, reason, "
          "revoked_at, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
          "ON CONFLICT (issuer_canonical, serial) DO NOTHING"));
  StmtScope s(*st);
  s->BindText(1, revocation.issuer_canonical);
  s->BindText(2, revocation.serial);
  s->BindTextOrNull(3, revocation.fingerprint_sha256);
  s->BindInt64(4, static_cast<int64_t>(revocation.reason));
  s->BindInt64(5, revocation.revoked_at != 0 ? revocation.revoked_at : clock_.NowMicros());
  s->BindText(6, revocation.source);
  return s->Run();
}

Status SqliteStore::ReleaseHold(const std::string& issuer_canonical, const std::string& serial) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn->db()));
  int64_t id = 0;
  {
    STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("SELECT id, reason FROM revocations "
                                                    "WHERE issuer_canonical = ?1 AND serial = ?2"));
    StmtScope s(*st);
    s->BindText(1, issuer_canonical);
    s->BindText(2, serial);
    STORE_ASSIGN_OR_RETURN(bool found, s->Step());
    if (!found) {
      return Status::NotFound("no revocation for serial " + serial + " from issuer " +
                              issuer_canonical);
    }
    int64_t reason = s->ColumnInt64(1);
    if (reason != static_cast<int64_t>(RevocationReason::kCertificateHold)) {
      return Status::FailedPrecondition("revocation of serial " + serial + " from issuer " +
                                        issuer_canonical + " is not a certificateHold (reason " +
                                        std::to_string(reason) + ")");
    }
    id = s->ColumnInt64(0);
  }
  {
    STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("DELETE FROM revocations WHERE id = ?1"));
    StmtScope s(*st);
    s->BindInt64(1, id);
    CERTGATE_RETURN_IF_ERROR(s->Run());
  }
  return txn.Commit();
}

Result<std::optional<Revocation>> SqliteStore::FindRevocation(const std::string& fingerprint_sha256,
                                                              const std::string& issuer_canonical,
                                                              const std::string& serial) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  // Two indexed lookups OR-ed together; an empty fingerprint binds NULL, which matches nothing.
  STORE_ASSIGN_OR_RETURN(
      Stmt * st,
      conn->Prepare("SELECT " REVOCATION_COLUMNS " FROM revocations "
                    "WHERE fingerprint_sha256 = ?1 OR (issuer_canonical = ?2 AND serial = ?3) "
                    "ORDER BY id LIMIT 1"));
  StmtScope s(*st);
  s->BindTextOrNull(1, fingerprint_sha256);
  s->BindText(2, issuer_canonical);
  s->BindText(3, serial);
  STORE_ASSIGN_OR_RETURN(bool found, s->Step());
  if (!found) return std::optional<Revocation>();
  return std::optional<Revocation>(ReadRevocation(*s));
}

Result<CrlInfo> SqliteStore::ImportCrl(const CrlInfo& crl, const std::vector<CrlEntry>& entries) {
  CERTGATE_RETURN_IF_ERROR(internal::ValidateCrl(crl, entries));
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  // One write transaction: the number check, the removal of the old CRL and its entries, and the
  // new rows. Readers see the old CRL or the new one, never a mix.
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn->db()));
  {
    STORE_ASSIGN_OR_RETURN(
        Stmt * st, conn->Prepare("SELECT crl_number FROM crls WHERE issuer_canonical = ?1"));
    StmtScope s(*st);
    s->BindText(1, crl.issuer_canonical);
    STORE_ASSIGN_OR_RETURN(bool found, s->Step());
    if (found) {
      CERTGATE_RETURN_IF_ERROR(
          internal::CheckCrlIsNewer(crl.crl_number, s->ColumnText(0), crl.issuer_display));
    }
  }
  for (std::string_view sql : {"DELETE FROM crl_entries WHERE issuer_canonical = ?1",
                               "DELETE FROM crls WHERE issuer_canonical = ?1"}) {
    STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare(sql));
    StmtScope s(*st);
    s->BindText(1, crl.issuer_canonical);
    CERTGATE_RETURN_IF_ERROR(s->Run());
  }
  CrlInfo stored = crl;
  stored.entry_count = static_cast<int64_t>(entries.size());
  stored.imported_at = clock_.NowMicros();
  {
    STORE_ASSIGN_OR_RETURN(
        Stmt * st,
        conn->Prepare(
            "INSERT INTO crls (issuer_canonical, issuer_display, crl_number, "
            "this_update, next_update, der, fingerprint_sha256, entry_count, imported_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
    StmtScope s(*st);
    s->BindText(1, stored.issuer_canonical);
    s->BindText(2, stored.issuer_display);
    s->BindText(3, stored.crl_number);
    s->BindInt64(4, stored.this_update);
    s->BindInt64(5, stored.next_update);
    s->BindBlobOrNull(6, stored.der);
    s->BindText(7, stored.fingerprint_sha256);
    s->BindInt64(8, stored.entry_count);
    s->BindInt64(9, stored.imported_at);
    CERTGATE_RETURN_IF_ERROR(s->Run());
    stored.id = sqlite3_last_insert_rowid(conn->db());
  }
  {
    STORE_ASSIGN_OR_RETURN(
        Stmt * st, conn->Prepare("INSERT INTO crl_entries (issuer_canonical, serial, reason, "
                                 "revocation_date) VALUES (?1, ?2, ?3, ?4)"));
    for (const CrlEntry& e : entries) {
      StmtScope s(*st);
      s->BindText(1, stored.issuer_canonical);
      s->BindText(2, e.serial);
      s->BindInt64(3, static_cast<int64_t>(e.reason));
      s->BindInt64(4, e.revocation_date);
      CERTGATE_RETURN_IF_ERROR(s->Run());
    }
  }
  CERTGATE_RETURN_IF_ERROR(txn.Commit());
  return stored;
}

Result<std::vector<CrlInfo>> SqliteStore::ListCrls() {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("SELECT " CRL_INFO_COLUMNS
                                                  " FROM crls ORDER BY issuer_display, id"));
  StmtScope s(*st);
  std::vector<CrlInfo> out;
  while (true) {
    STORE_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadCrlInfo(*s));
  }
  return out;
}

Result<std::optional<CrlInfo>> SqliteStore::GetCrlInfo(const std::string& issuer_canonical) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("SELECT " CRL_INFO_COLUMNS
                                                  " FROM crls WHERE issuer_canonical = ?1"));
  StmtScope s(*st);
  s->BindText(1, issuer_canonical);
  STORE_ASSIGN_OR_RETURN(bool found, s->Step());
  if (!found) return std::optional<CrlInfo>();
  return std::optional<CrlInfo>(ReadCrlInfo(*s));
}

Result<std::optional<CrlEntry>> SqliteStore::FindCrlEntry(const std::string& issuer_canonical,
                                                          const std::string& serial) {
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("SELECT reason, revocation_date FROM crl_entries "
                                                  "WHERE issuer_canonical = ?1 AND serial = ?2"));
  StmtScope s(*st);
  s->BindText(1, issuer_canonical);
  s->BindText(2, serial);
  STORE_ASSIGN_OR_RETURN(bool found, s->Step());
  if (!found) return std::optional<CrlEntry>();
  CrlEntry e;
  e.issuer_canonical = issuer_canonical;
  e.serial = serial;
  e.reason = static_cast<RevocationReason>(s->ColumnInt64(0));
  e.revocation_date = s->ColumnInt64(1);
  return std::optional<CrlEntry>(std::move(e));
}

Status SqliteStore::AppendAudit(std::vector<AuditEvent>& events) {
  for (AuditEvent& e : events) e.id = 0;
  if (events.empty()) return Status::Ok();
  CERTGATE_RETURN_IF_ERROR(internal::ValidateAuditEvents(events));
  CERTGATE_RETURN_IF_ERROR(CheckFile());  // one stat per batch
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  const int64_t now = clock_.NowMicros();
  std::vector<int64_t> ids;
  ids.reserve(events.size());
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn->db()));
  STORE_ASSIGN_OR_RETURN(
      Stmt * st,
      conn->Prepare("INSERT INTO audit_events (time, kind, request_id, caller, fingerprint_sha256, "
                    "subject, issuer, serial, user_id, user_name, decision, reason, action, "
                    "resource, message) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"));
  for (const AuditEvent& e : events) {
    StmtScope s(*st);
    s->BindInt64(1, e.time != 0 ? e.time : now);
    s->BindText(2, e.kind);
    s->BindText(3, e.request_id);
    s->BindText(4, e.caller);
    s->BindText(5, e.fingerprint_sha256);
    s->BindText(6, e.subject);
    s->BindText(7, e.issuer);
    s->BindText(8, e.serial);
    if (e.user_id) s->BindInt64(9, *e.user_id);  // else NULL
    s->BindText(10, e.user_name);
    s->BindText(11, internal::DecisionName(e.decision));
    s->BindText(12, ReasonName(e.reason));
    s->BindText(13, e.action);
    s->BindText(14, e.resource);
    s->BindText(15, e.message);
    CERTGATE_RETURN_IF_ERROR(s->Run());
    ids.push_back(sqlite3_last_insert_rowid(conn->db()));
  }
  CERTGATE_RETURN_IF_ERROR(txn.Commit());
  // Only now, with the batch durable, do the callers get ids.
  for (size_t i = 0; i < events.size(); ++i) {
    events[i].id = ids[i];
    if (events[i].time == 0) events[i].time = now;
  }
  return Status::Ok();
}

Result<int64_t> SqliteStore::DeleteAuditBefore(int64_t before_micros, int limit) {
  if (limit < 1) return Status::InvalidArgument("limit must be >= 1");
  CERTGATE_RETURN_IF_ERROR(CheckFile());
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn->db()));
  // The time index finds the oldest rows; the delete goes by rowid.
  STORE_ASSIGN_OR_RETURN(
      Stmt * st, conn->Prepare("DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events "
                               "WHERE time < ?1 ORDER BY time LIMIT ?2)"));
  StmtScope s(*st);
  s->BindInt64(1, before_micros);
  s->BindInt64(2, limit);
  CERTGATE_RETURN_IF_ERROR(s->Run());
  const int64_t deleted = sqlite3_changes(conn->db());
  CERTGATE_RETURN_IF_ERROR(txn.Commit());
  return deleted;
}

Result<std::vector<AuditEvent>> SqliteStore::QueryAudit(const AuditQuery& query) {
  // Only the filters that are set appear in the SQL, so SQLite can pick the matching index; the
  // statement text is cached per filter combination (Conn::PrepareDynamic).
  std::string sql = "SELECT " AUDIT_COLUMNS " FROM audit_events WHERE 1";
  if (query.since) sql += " AND time >= ?1";
  if (query.until) sql += " AND time < ?2";
  if (query.user_id) sql += " AND user_id = ?3";
  if (query.fingerprint_sha256) sql += " AND fingerprint_sha256 = ?4";
  if (query.decision) sql += " AND decision = ?5";
  if (query.reason) sql += " AND reason = ?6";
  if (query.action) sql += " AND action = ?7";
  if (query.request_id) sql += " AND request_id = ?8";
  if (query.kind) sql += " AND kind = ?9";
  if (query.before_id) sql += " AND id < ?10";
  if (query.after_id) sql += " AND id > ?11";
  sql += query.after_id ? " ORDER BY id ASC" : " ORDER BY id DESC";
  sql += " LIMIT ?12";

  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  STORE_ASSIGN_OR_RETURN(Stmt * st, conn->PrepareDynamic(sql));
  StmtScope s(*st);
  if (query.since) s->BindInt64(1, *query.since);
  if (query.until) s->BindInt64(2, *query.until);
  if (query.user_id) s->BindInt64(3, *query.user_id);
  if (query.fingerprint_sha256) s->BindText(4, *query.fingerprint_sha256);
  if (query.decision) s->BindText(5, internal::DecisionName(*query.decision));
  if (query.reason) s->BindText(6, ReasonName(*query.reason));
  if (query.action) s->BindText(7, *query.action);
  if (query.request_id) s->BindText(8, *query.request_id);
  if (query.kind) s->BindText(9, *query.kind);
  if (query.before_id) s->BindInt64(10, *query.before_id);
  if (query.after_id) s->BindInt64(11, *query.after_id);
  s->BindInt64(12, internal::ClampAuditLimit(query.limit));
  std::vector<AuditEvent> out;
  while (true) {
    STORE_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    STORE_ASSIGN_OR_RETURN(AuditEvent e, ReadAuditEvent(*s));
    out.push_back(std::move(e));
  }
  return out;
}

Status SqliteStore::CheckFile() const {
  // SQLite keeps writing to an unlinked file: rows committed there would vanish at the next
  // restart. Refuse instead, so answers stop (UNAVAILABLE) rather than lose their audit rows.
  return pool_.CheckFile();
}

Status SqliteStore::Ping() {
  CERTGATE_RETURN_IF_ERROR(CheckFile());
  STORE_ASSIGN_OR_RETURN(ConnPool::Lease conn, pool_.Acquire());
  // Reads the schema page, so a locked or unreadable file shows up here.
  {
    STORE_ASSIGN_OR_RETURN(Stmt * st, conn->Prepare("SELECT count(*) FROM sqlite_master"));
    StmtScope s(*st);
    STORE_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return Status::Internal("ping returned no row");
  }
  if (read_only_) return Status::Ok();
  // A committed write, so a full disk or read-only file system shows up too.
  STORE_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn->db()));
  STORE_ASSIGN_OR_RETURN(
      Stmt * st, conn->Prepare("INSERT INTO health_probe (id, checked_at) VALUES (1, ?1) "
                               "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"));
  {
    StmtScope s(*st);
    s->BindInt64(1, clock_.NowMicros());
    CERTGATE_RETURN_IF_ERROR(s->Run());
  }
  return txn.Commit();
}

Status ValidateOptions(const SqliteOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("sqlite path must not be empty");
  if (options.path == ":memory:" || options.path.rfind("file:", 0) == 0) {
    return Status::InvalidArgument(
        "sqlite path must be a file name (not ':memory:' or a URI): each pooled connection must "
        "see the same database");
  }
  if (options.pool_size < 1) return Status::InvalidArgument("sqlite pool_size must be >= 1");
  if (options.busy_timeout_ms < 0) {
    return Status::InvalidArgument("sqlite busy_timeout_ms must be >= 0");
  }
  return Status::Ok();
}

// WAL is a property of the file: set once at open (needs write access).
Status EnableWal(Conn& conn, const std::string& path) {
  STORE_ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(conn.db(), "PRAGMA journal_mode = WAL", false));
  STORE_ASSIGN_OR_RETURN(bool row, st.Step());
  std::string mode = row ? st.ColumnText(0) : std::string();
  if (mode != "wal") {
    return Status::Unavailable("cannot put database " + path + " in WAL mode (journal_mode is '" +
                               mode + "')");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options, const Clock& clock) {
  return OpenSqliteStore(options, clock, EmbeddedMigrations());
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options, const Clock& clock,
                                               const std::vector<Migration>& migrations) {
  CERTGATE_RETURN_IF_ERROR(ValidateOptions(options));
  if (!options.read_only) {
    std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return Status::Unavailable("cannot create directory " + parent.string() + ": " +
                                   ec.message());
      }
    }
  }
  STORE_ASSIGN_OR_RETURN(std::unique_ptr<Conn> first, OpenConn(options, /*create=*/true));
  if (!options.read_only) CERTGATE_RETURN_IF_ERROR(EnableWal(*first, options.path));
  CERTGATE_RETURN_IF_ERROR(Migrate(*first, options, clock, migrations));
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(options, clock, std::move(first)));
}

Result<int> ReadSchemaVersion(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  STORE_ASSIGN_OR_RETURN(Db db, Db::Open(path, SQLITE_OPEN_READONLY));
  return ReadVersion(db.get());
}

}  // namespace certgate::store
