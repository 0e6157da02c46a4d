-- 0002: imported certificate revocation lists (one per issuer) and their entries.
--
-- A CRL is imported only after its signature has been verified against the issuer's certificate
-- (from the configured trust anchors / intermediates, or one given with the import). Importing a
-- newer CRL of the same issuer (greater crl_number) replaces the row and, through the cascade,
-- every entry of the old one, in one transaction.
-- Conventions as in 0001: this_update / next_update / revocation_date are Unix seconds,
-- imported_at Unix micros; crl_number and serials are normalised lowercase hex TEXT.

CREATE TABLE crls (
  id                 INTEGER PRIMARY KEY,
  issuer_canonical   TEXT    NOT NULL UNIQUE,
  issuer_display     TEXT    NOT NULL DEFAULT '',
  crl_number         TEXT    NOT NULL,
  this_update        INTEGER NOT NULL,
  next_update        INTEGER NOT NULL DEFAULT 0,  -- 0: the CRL has no nextUpdate
  der                BLOB    NOT NULL,
  fingerprint_sha256 TEXT    NOT NULL DEFAULT '',
  entry_count        INTEGER NOT NULL DEFAULT 0,
  imported_at        INTEGER NOT NULL
);

-- Looked up on every request by (issuer, serial): the primary key is that pair, so the lookup is
-- one B-tree search however many entries there are. A serial is only unique per issuer.
CREATE TABLE crl_entries (
  issuer_canonical TEXT    NOT NULL REFERENCES crls (issuer_canonical) ON DELETE CASCADE,
  serial           TEXT    NOT NULL,
  reason           INTEGER NOT NULL,  -- RFC 5280 CRLReason code
  revocation_date  INTEGER NOT NULL,
  PRIMARY KEY (issuer_canonical, serial)
) WITHOUT ROWID;
