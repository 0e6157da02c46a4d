// SQLite implementation of Store: one file, WAL, foreign keys on, busy timeout, prepared
// statements. Thread-safe: a small pool of connections, each used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/common/clock.h"
#include "server/store/migrations.h"
#include "server/store/store.h"

namespace certgate::store {

struct SqliteOptions {
  std::string path;  // database file; created if missing (with its parent dir)
  int busy_timeout_ms = 5000;
  bool synchronous_full = true;  // PRAGMA synchronous=FULL (durable audit) vs NORMAL
  int pool_size = 4;             // reader connections
  // Per-connection page cache (PRAGMA cache_size, in KiB). SQLite's default (2 MiB) is smaller
  // than the indexes of a database with many enrolled certificates or audit rows, so each lookup
  // and each audit insert would re-read pages through read() system calls.
  int cache_size_kib = 32768;
  // Bytes of the file read through a memory map instead of read() (PRAGMA mmap_size); 0 = off.
  int64_t mmap_size = 0;
  bool apply_migrations = true;  // apply pending migrations at open
  // Open with SQLITE_OPEN_READONLY: reads work, every write fails with kUnavailable. For
  // inspection tools and for tests (file permissions do not stop root). The file must exist and
  // be fully migrated (else FailedPrecondition); WAL mode is not (re)configured.
  bool read_only = false;
};

// Opens (creating if needed) the database and applies pending migrations inside one
// transaction, recording the version in schema_version (and PRAGMA user_version). Fails with
// FailedPrecondition if the database's schema is newer than this binary knows; Unavailable if the
// file cannot be opened or is not a database; InvalidArgument for bad options (empty path,
// ":memory:", which a connection pool cannot share, pool_size < 1).
// `clock` must outlive the store.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options, const Clock& clock);

// Same, with an explicit migration list (tests use this to simulate newer schemas).
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options, const Clock& clock,
                                               const std::vector<Migration>& migrations);

// The schema version recorded in the database file (0 if none, or if the file does not exist).
// Opens the file read-only and never creates it. For tests and the CLI.
Result<int> ReadSchemaVersion(const std::string& path);

}  // namespace certgate::store
