// RAII wrappers over the SQLite C API, and the one place SQLite result codes become Status.
//
// Like bssl::UniquePtr for OpenSSL: no bare sqlite3_close / sqlite3_finalize / ROLLBACK outside
// this file. Db owns a connection, Stmt owns a prepared statement, Txn owns an open transaction.
// None of these types is thread-safe; a connection and its statements are used by one thread at a
// time (the store's pool hands them out).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "server/common/status.h"

namespace certgate::store::sqlite {

// Maps an SQLite result code to a Status whose message names `what` and carries SQLite's own
// message (from `db` when given, else the generic text for rc).
//   BUSY, LOCKED, IOERR, FULL, READONLY, CANTOPEN, NOTADB, PROTOCOL, PERM, NOMEM -> kUnavailable
//   (the database is failing; a retry or an operator can fix it);
//   everything else, including CONSTRAINT and CORRUPT -> kInternal. Callers that expect a
//   particular constraint translate it themselves (see IsUniqueViolation etc.).
Status ToStatus(int rc, sqlite3* db, std::string_view what);

// Extended-code helpers (connections are opened with extended result codes enabled).
bool IsUniqueViolation(int extended_rc);
bool IsForeignKeyViolation(int extended_rc);

// An open connection. Closes on destruction (sqlite3_close_v2, so a leaked statement cannot keep
// the file handle in limbo; finalize statements first anyway). Move-only.
class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_NOMUTEX is added: each connection is
  // used by one thread at a time) and enables extended result codes. Unavailable on failure.
  static Result<Db> Open(const std::string& path, int flags);

  sqlite3* get() const { return db_; }
  explicit operator bool() const { return db_ != nullptr; }

  // Runs one or more statements that return no rows of interest (pragmas, DDL, migrations).
  Status Exec(std::string_view sql, std::string_view what);

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A prepared statement. Finalizes on destruction. Move-only.
//
// Usage: Bind*, then Step() until it returns false, then Reset() (or let a StmtScope do it).
// A statement that is stepped but not reset keeps a read transaction open and would hide other
// connections' commits, so every use must end in Reset().
class Stmt {
 public:
  Stmt() = default;
  ~Stmt();
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Prepares exactly one SQL statement. `persistent` hints that it will be reused many times
  // (SQLITE_PREPARE_PERSISTENT). Internal if `sql` is invalid or holds more than one statement.
  static Result<Stmt> Prepare(sqlite3* db, std::string_view sql, bool persistent);

  sqlite3_stmt* get() const { return stmt_; }

  // Resets the statement AND clears every binding, so nothing leaks into the next use.
  void Reset();

  // Parameter indexes are 1-based, as in SQLite. Values are copied. A binding error (value too
  // big, out of memory, bad index) is remembered and returned by the next Step()/Run().
  void BindInt64(int index, int64_t value);
  void BindText(int index, std::string_view value);
  // Binds NULL when `value` is empty (optional columns: NULL means unknown).
  void BindTextOrNull(int index, std::string_view value);
  void BindBlobOrNull(int index, std::string_view value);
  void BindNull(int index);

  // Advances. true: a row is available; false: done. On error returns the mapped Status (see
  // ToStatus) and remembers the extended code in last_rc().
  Result<bool> Step();
  // Steps a statement that must not return rows (INSERT/UPDATE/DELETE) to completion.
  Status Run();
  int last_rc() const { return last_rc_; }

  // Column accessors (0-based). NULL reads as 0 / "".
  int64_t ColumnInt64(int column) const;
  bool ColumnIsNull(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;

 private:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  void NoteBind(int rc);
  sqlite3_stmt* stmt_ = nullptr;
  int bind_rc_ = SQLITE_OK;
  int last_rc_ = SQLITE_OK;
};

// Resets (and clears the bindings of) a borrowed statement when the scope ends, whatever path
// the scope leaves by.
class StmtScope {
 public:
  explicit StmtScope(Stmt& stmt) : stmt_(stmt) {}
  ~StmtScope() { stmt_.Reset(); }
  StmtScope(const StmtScope&) = delete;
  StmtScope& operator=(const StmtScope&) = delete;
  Stmt* operator->() { return &stmt_; }
  Stmt& operator*() { return stmt_; }

 private:
  Stmt& stmt_;
};

// An open transaction on a connection. Rolls back on destruction unless Commit() succeeded.
// Move-only. The connection must outlive it.
class Txn {
 public:
  enum class Mode {
    kImmediate,  // BEGIN IMMEDIATE: takes the write lock now (waiting up to the busy timeout),
                 // so a writer never fails half-way with SQLITE_BUSY on lock upgrade.
    kDeferred,   // BEGIN: a read snapshot spanning several statements.
  };

  Txn() = default;
  ~Txn();
  Txn(Txn&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  static Result<Txn> Begin(sqlite3* db, Mode mode = Mode::kImmediate);
  // On failure the transaction is still open and will be rolled back by the destructor.
  Status Commit();

 private:
  explicit Txn(sqlite3* db) : db_(db) {}
  void Rollback();
  sqlite3* db_ = nullptr;  // non-null while the transaction is open
};

}  // namespace certgate::store::sqlite
