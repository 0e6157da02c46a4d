// RAII wrappers over the SQLite C API; see sqlite_util.h.
#include "server/store/sqlite_util.h"

#include <cstdlib>
#include <string>
#include <utility>

namespace certgate::store::sqlite {

Status ToStatus(int rc, sqlite3* db, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  // sqlite3_errmsg describes the most recent failure on `db`, which is `rc` when the caller maps
  // the error right away (as everything in this file does).
  msg += (db != nullptr) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (sqlite code ";
  msg += std::to_string(rc);
  msg += ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_PROTOCOL:
    case SQLITE_PERM:
    case SQLITE_NOMEM:
      return Status::Unavailable(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

bool IsUniqueViolation(int extended_rc) {
  return extended_rc == SQLITE_CONSTRAINT_UNIQUE || extended_rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

bool IsForeignKeyViolation(int extended_rc) { return extended_rc == SQLITE_CONSTRAINT_FOREIGNKEY; }

// --- Db ---

Db::~Db() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Result<Db> Db::Open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  // Even on failure SQLite usually allocates a handle (to carry the message); own it at once.
  Db db(raw);
  if (rc != SQLITE_OK) {
    return ToStatus(rc, raw, "cannot open database " + path);
  }
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Status Db::Exec(std::string_view sql, std::string_view what) {
  std::string owned(sql);  // sqlite3_exec needs a NUL-terminated string
  char* err = nullptr;
  int rc = sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &err);
  // The message is also available from sqlite3_errmsg; free the copy sqlite3_exec made.
  sqlite3_free(err);
  if (rc != SQLITE_OK) return ToStatus(rc, db_, what);
  return Status::Ok();
}

// --- Stmt ---

Stmt::~Stmt() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      bind_rc_(other.bind_rc_),
      last_rc_(other.last_rc_) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_rc_ = other.bind_rc_;
    last_rc_ = other.last_rc_;
  }
  return *this;
}

Result<Stmt> Stmt::Prepare(sqlite3* db, std::string_view sql, bool persistent) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, &tail);
  Stmt stmt(raw);
  // A failure to prepare our own SQL is a bug (kInternal) unless the database itself is failing
  // (e.g. SQLITE_NOTADB, SQLITE_IOERR reading the schema: kUnavailable).
  if (rc != SQLITE_OK) return ToStatus(rc, db, "cannot prepare statement");
  if (raw == nullptr) return Status::Internal("empty SQL statement");
  std::string_view rest(tail, static_cast<size_t>(sql.data() + sql.size() - tail));
  if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
    return Status::Internal("more than one SQL statement in one Prepare: " + std::string(sql));
  }
  return stmt;
}

void Stmt::Reset() {
  if (stmt_ == nullptr) return;
  // sqlite3_reset repeats the last step error, which was already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

void Stmt::NoteBind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Stmt::BindInt64(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value));
}

void Stmt::BindText(int index, std::string_view value) {
  NoteBind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void Stmt::BindTextOrNull(int index, std::string_view value) {
  if (value.empty()) {
    BindNull(index);
  } else {
    BindText(index, value);
  }
}

void Stmt::BindBlobOrNull(int index, std::string_view value) {
  if (value.empty()) {
    BindNull(index);
  } else {
    NoteBind(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT));
  }
}

void Stmt::BindNull(int index) { NoteBind(sqlite3_bind_null(stmt_, index)); }

Result<bool> Stmt::Step() {
  sqlite3* db = sqlite3_db_handle(stmt_);
  if (bind_rc_ != SQLITE_OK) {
    last_rc_ = bind_rc_;
    // The connection's error message does not describe binding failures; use the generic text.
    return ToStatus(bind_rc_, nullptr, "cannot bind statement parameter");
  }
  int rc = sqlite3_step(stmt_);
  last_rc_ = rc;
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ToStatus(rc, db, "statement failed");
}

Status Stmt::Run() {
  Result<bool> r = Step();
  if (!r.ok()) return r.status();
  if (*r) return Status::Internal("statement unexpectedly returned a row");
  return Status::Ok();
}

int64_t Stmt::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Stmt::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::string Stmt::ColumnText(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Stmt::ColumnBlob(int column) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  if (p == nullptr) return std::string();
  return std::string(static_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

// --- Txn ---

Txn::~Txn() { Rollback(); }

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    Rollback();
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Result<Txn> Txn::Begin(sqlite3* db, Mode mode) {
  const char* sql = mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN";
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return ToStatus(rc, db, "cannot begin transaction");
  return Txn(db);
}

Status Txn::Commit() {
  if (db_ == nullptr) return Status::Internal("Commit on a transaction that is not open");
  int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  // On failure the transaction is still open (or SQLite already rolled it back); the destructor
  // cleans up either way.
  if (rc != SQLITE_OK) return ToStatus(rc, db_, "cannot commit transaction");
  db_ = nullptr;
  return Status::Ok();
}

void Txn::Rollback() {
  if (db_ == nullptr) return;
  // Some errors (e.g. SQLITE_FULL, SQLITE_IOERR) make SQLite roll back by itself; then there is
  // nothing left to roll back and ROLLBACK would only fail.
  if (sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  db_ = nullptr;
}

}  // namespace certgate::store::sqlite
