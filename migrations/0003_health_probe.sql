-- One row that Store::Ping() rewrites in a committed transaction, so the health check notices a
-- database that can be read but not written (full disk, read-only file system).
CREATE TABLE health_probe (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at INTEGER NOT NULL
);
