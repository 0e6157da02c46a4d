-- 0001: initial schema — users and their roles, enrolled certificates, revocations, audit events.
--
-- Applied by the migration runner (server/store/sqlite_store.cc) inside one transaction together
-- with the schema_version bookkeeping, so this file must not contain BEGIN/COMMIT.
-- Conventions: times are INTEGER (Unix micros for created_at/revoked_at/time, Unix seconds for
-- certificate validity); fingerprints and serials are lowercase hex TEXT; an unknown optional value
-- is NULL (so UNIQUE columns can hold many unknowns); reasons are stored by name, never by number.

CREATE TABLE users (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE CHECK (name <> ''),
  display_name TEXT    NOT NULL DEFAULT '',
  disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at   INTEGER NOT NULL
);

CREATE TABLE user_roles (
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role    TEXT    NOT NULL CHECK (role <> ''),
  PRIMARY KEY (user_id, role)
) WITHOUT ROWID;

CREATE TABLE certificates (
  id                 INTEGER PRIMARY KEY,
  user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- NULL when enrolled by issuer + subject + serial without the certificate itself.
  fingerprint_sha256 TEXT    UNIQUE,
  issuer_canonical   TEXT    NOT NULL,
  subject_canonical  TEXT    NOT NULL,
  issuer_display     TEXT    NOT NULL DEFAULT '',
  subject_display    TEXT    NOT NULL DEFAULT '',
  serial             TEXT    NOT NULL,
  not_before         INTEGER NOT NULL DEFAULT 0,
  not_after          INTEGER NOT NULL DEFAULT 0,
  der                BLOB,
  spki_sha256        TEXT,
  created_at         INTEGER NOT NULL,
  -- A serial is only unique per issuer (RFC 5280 4.1.2.2); never key on it alone.
  UNIQUE (issuer_canonical, serial)
);
CREATE INDEX certificates_subject_serial ON certificates (subject_canonical, serial);
CREATE INDEX certificates_spki ON certificates (spki_sha256);
CREATE INDEX certificates_user ON certificates (user_id);

CREATE TABLE revocations (
  id                 INTEGER PRIMARY KEY,
  issuer_canonical   TEXT    NOT NULL,
  serial             TEXT    NOT NULL,
  fingerprint_sha256 TEXT,
  reason             INTEGER NOT NULL,  -- RFC 5280 CRLReason code
  revoked_at         INTEGER NOT NULL,
  source             TEXT    NOT NULL,  -- 'admin' or 'crl'
  UNIQUE (issuer_canonical, serial)
);
CREATE INDEX revocations_fingerprint ON revocations (fingerprint_sha256);

-- AUTOINCREMENT: audit ids are never reused, even after the newest rows are deleted.
-- user_id deliberately has no foreign key: audit rows must outlive the users they mention.
CREATE TABLE audit_events (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  time               INTEGER NOT NULL,
  kind               TEXT    NOT NULL,
  request_id         TEXT    NOT NULL DEFAULT '',
  caller             TEXT    NOT NULL DEFAULT '',
  fingerprint_sha256 TEXT    NOT NULL DEFAULT '',
  subject            TEXT    NOT NULL DEFAULT '',
  issuer             TEXT    NOT NULL DEFAULT '',
  serial             TEXT    NOT NULL DEFAULT '',
  user_id            INTEGER,
  user_name          TEXT    NOT NULL DEFAULT '',
  decision           TEXT    NOT NULL CHECK (decision IN ('ALLOW', 'DENY')),
  reason             TEXT    NOT NULL,  -- ReasonName(): 'NONE' for allows
  action             TEXT    NOT NULL DEFAULT '',
  resource           TEXT    NOT NULL DEFAULT '',
  message            TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_request_id ON audit_events (request_id);
CREATE INDEX audit_events_fingerprint ON audit_events (fingerprint_sha256);
CREATE INDEX audit_events_user ON audit_events (user_id);
