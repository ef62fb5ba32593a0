/**
 * Versioned schema of the CA store. Each migration runs once, in order, in a
 * transaction; PRAGMA user_version records how far a database has come.
 * Never edit a shipped migration: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the first schema
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE cas (
    id              INTEGER PRIMARY KEY,
    state           TEXT NOT NULL CHECK (state IN ('prepared','active','previous','retired')),
    key_type        TEXT NOT NULL,
    key_file        TEXT NOT NULL,
    cert_der        BLOB NOT NULL,
    chain_der       BLOB,             -- intermediates above this CA (bring-your-own root), concatenated DER
    anchor_der      BLOB NOT NULL,    -- the root that goes into the trust bundle
    subject         TEXT NOT NULL,
    serial          TEXT NOT NULL,
    not_before      INTEGER NOT NULL, -- unix ms
    not_after       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    activated_at    INTEGER,
    retired_at      INTEGER,
    force_retired   INTEGER NOT NULL DEFAULT 0,
    crl_number      INTEGER NOT NULL DEFAULT 0,
    crl_der         BLOB,
    crl_this_update INTEGER,
    crl_next_update INTEGER
  );
  CREATE UNIQUE INDEX cas_one_active ON cas(state) WHERE state = 'active';
  CREATE UNIQUE INDEX cas_one_prepared ON cas(state) WHERE state = 'prepared';

  CREATE TABLE certificates (
    serial            TEXT PRIMARY KEY,   -- normalized hex
    ca_id             INTEGER NOT NULL REFERENCES cas(id),
    spiffe_id         TEXT NOT NULL,
    node              TEXT,
    kind              TEXT NOT NULL CHECK (kind IN ('workload','node','manual','server')),
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    issued_at         INTEGER NOT NULL,
    revoked_at        INTEGER,
    revocation_reason TEXT,
    cert_der          BLOB NOT NULL
  );
  CREATE INDEX certificates_spiffe_id ON certificates(spiffe_id);
  CREATE INDEX certificates_ca_expiry ON certificates(ca_id, not_after);
  CREATE INDEX certificates_revoked ON certificates(ca_id, revoked_at) WHERE revoked_at IS NOT NULL;

  CREATE TABLE entries (
    id          TEXT PRIMARY KEY,
    spiffe_id   TEXT NOT NULL,
    node        TEXT NOT NULL,
    workload    TEXT NOT NULL,
    ttl_seconds INTEGER,
    dns_names   TEXT NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    UNIQUE (node, workload),
    UNIQUE (node, spiffe_id)
  );
  CREATE INDEX entries_node ON entries(node);

  CREATE TABLE nodes (
    name        TEXT PRIMARY KEY,
    spiffe_id   TEXT NOT NULL,
    attested_at INTEGER NOT NULL,
    last_serial TEXT
  );

  CREATE TABLE join_tokens (
    hash       TEXT PRIMARY KEY,           -- sha256 hex of the token; the token itself is never stored
    node       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
  );
  `,
];
