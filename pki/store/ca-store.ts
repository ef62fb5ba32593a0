/**
 * The CA store: one SQLite file (WAL) holding CAs, issued certificates,
 * registration entries, attested nodes and hashed join tokens. Every write is
 * one transaction, so a certificate the CA handed out is always on record.
 */
import Database from "better-sqlite3";
import { closeSync, openSync } from "node:fs";
import { PkiError } from "../errors.js";
import { MIGRATIONS } from "./migrations.js";
import { d, toCa, toCert, toEntry, type CaRecord, type CaState, type IssuedCertificate, type NodeRecord, type RegistrationEntry, type Row } from "./records.js";

export type { CaRecord, CaState, CertKind, IssuedCertificate, NodeRecord, RegistrationEntry } from "./records.js";

export interface CertificateFilter {
  spiffeId?: string;
  node?: string;
  caId?: number;
  /** Only certificates whose notAfter is after this instant. */
  unexpiredAt?: Date;
  limit?: number;
}

export class CaStore {
  readonly db: Database.Database;
  private readonly stmts: ReturnType<CaStore["prepare"]>;
  /** The CA rows, read once per change: every issuance needs them, they change only on rotation and CRL signing. */
  private casCache?: { dataVersion: number; cas: CaRecord[] };

  private constructor(db: Database.Database) {
    this.db = db;
    this.stmts = this.prepare();
  }

  /** Opens (creating with mode 0600) and migrates the store. */
  static open(path: string, opts: { durability?: "normal" | "full" } = {}): CaStore {
    closeSync(openSync(path, "a", 0o600));
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${opts.durability === "full" ? "FULL" : "NORMAL"}`);
    db.pragma("busy_timeout = 5000");
    db.pragma("foreign_keys = ON");
    migrate(db);
    return new CaStore(db);
  }

  private prepare() {
    const db = this.db;
    return {
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      insertCa: db.prepare(`INSERT INTO cas (state, key_type, key_file, cert_der, chain_der, anchor_der, subject, serial,
        not_before, not_after, created_at, activated_at) VALUES (@state, @keyType, @keyFile, @certDer, @chainDer, @anchorDer,
        @subject, @serial, @notBefore, @notAfter, @createdAt, @activatedAt)`),
      allCas: db.prepare("SELECT * FROM cas ORDER BY id"),
      setCaState: db.prepare("UPDATE cas SET state = ?, activated_at = COALESCE(?, activated_at), retired_at = COALESCE(?, retired_at), force_retired = MAX(force_retired, ?) WHERE id = ?"),
      setCaKeyFile: db.prepare("UPDATE cas SET key_file = ? WHERE id = ?"),
      setCrl: db.prepare("UPDATE cas SET crl_number = ?, crl_der = ?, crl_this_update = ?, crl_next_update = ? WHERE id = ?"),
      insertCert: db.prepare(`INSERT INTO certificates (serial, ca_id, spiffe_id, node, kind, not_before, not_after, issued_at, cert_der)
        VALUES (@serial, @caId, @spiffeId, @node, @kind, @notBefore, @notAfter, @issuedAt, @certDer)`),
      certBySerial: db.prepare("SELECT * FROM certificates WHERE serial = ?"),
      revokeSerial: db.prepare("UPDATE certificates SET revoked_at = ?, revocation_reason = ? WHERE serial = ? AND revoked_at IS NULL"),
      revokedOfCa: db.prepare("SELECT serial, revoked_at, revocation_reason FROM certificates WHERE ca_id = ? AND revoked_at IS NOT NULL AND not_after > ? ORDER BY serial"),
      lastExpiryOfCa: db.prepare("SELECT MAX(not_after) AS m FROM certificates WHERE ca_id = ? AND kind != 'server'"),
      insertEntry: db.prepare(`INSERT INTO entries (id, spiffe_id, node, workload, ttl_seconds, dns_names, created_at)
        VALUES (@id, @spiffeId, @node, @workload, @ttlSeconds, @dnsNames, @createdAt)`),
      deleteEntry: db.prepare("DELETE FROM entries WHERE id = ?"),
      entriesOfNode: db.prepare("SELECT * FROM entries WHERE node = ? ORDER BY workload"),
      allEntries: db.prepare("SELECT * FROM entries ORDER BY node, workload"),
      entryFor: db.prepare("SELECT * FROM entries WHERE node = ? AND spiffe_id = ?"),
      entryById: db.prepare("SELECT * FROM entries WHERE id = ?"),
      upsertNode: db.prepare(`INSERT INTO nodes (name, spiffe_id, attested_at, last_serial) VALUES (?, ?, ?, ?)
        ON CONFLICT(name) DO UPDATE SET spiffe_id = excluded.spiffe_id, attested_at = excluded.attested_at, last_serial = excluded.last_serial`),
      nodeByName: db.prepare("SELECT * FROM nodes WHERE name = ?"),
      insertToken: db.prepare("INSERT INTO join_tokens (hash, node, created_at, expires_at) VALUES (?, ?, ?, ?)"),
      tokenByHash: db.prepare("SELECT * FROM join_tokens WHERE hash = ?"),
      useToken: db.prepare("UPDATE join_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL"),
    };
  }

  close(): void {
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      this.invalidateCas(); // a rolled-back write must not survive in the cache
      throw err;
    }
  }

  getMeta(key: string): string | undefined {
    const r = this.stmts.getMeta.get(key) as Row | undefined;
    return r ? String(r.value) : undefined;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  /** The trust bundle's sequence number; bumped on every change of the bundle. */
  bumpBundleSequence(): number {
    const next = Number(this.getMeta("bundle_sequence") ?? "0") + 1;
    this.setMeta("bundle_sequence", String(next));
    return next;
  }

  insertCa(ca: Omit<CaRecord, "id" | "forceRetired" | "crlNumber" | "retiredAt">): number {
    const info = this.stmts.insertCa.run({
      state: ca.state,
      keyType: ca.keyType,
      keyFile: ca.keyFile,
      certDer: ca.certDer,
      chainDer: ca.chainDer.length ? Buffer.concat(ca.chainDer) : null,
      anchorDer: ca.anchorDer,
      subject: ca.subject,
      serial: ca.serial,
      notBefore: ca.notBefore.getTime(),
      notAfter: ca.notAfter.getTime(),
      createdAt: ca.createdAt.getTime(),
      activatedAt: ca.activatedAt?.getTime() ?? null,
    });
    this.invalidateCas();
    return Number(info.lastInsertRowid);
  }

  setCaKeyFile(id: number, keyFile: string): void {
    this.stmts.setCaKeyFile.run(keyFile, id);
    this.invalidateCas();
  }

  getCa(id: number): CaRecord | undefined {
    return this.listCas().find((c) => c.id === id);
  }

  casInState(state: CaState): CaRecord[] {
    return this.listCas().filter((c) => c.state === state);
  }

  /**
   * Every CA, oldest first. Cached; the cache is dropped by our own writes to
   * the CA table and whenever another process commits (PRAGMA data_version).
   */
  listCas(): CaRecord[] {
    const dataVersion = Number(this.db.pragma("data_version", { simple: true }));
    if (!this.casCache || this.casCache.dataVersion !== dataVersion) {
      this.casCache = { dataVersion, cas: (this.stmts.allCas.all() as Row[]).map(toCa) };
    }
    return this.casCache.cas;
  }

  private invalidateCas(): void {
    this.casCache = undefined;
  }

  setCaState(id: number, state: CaState, at: Date, force = false): void {
    this.stmts.setCaState.run(
      state,
      state === "active" ? at.getTime() : null,
      state === "retired" ? at.getTime() : null,
      force ? 1 : 0,
      id,
    );
    this.invalidateCas();
  }

  setCrl(id: number, crl: { number: bigint; der: Buffer; thisUpdate: Date; nextUpdate: Date }): void {
    this.stmts.setCrl.run(Number(crl.number), crl.der, crl.thisUpdate.getTime(), crl.nextUpdate.getTime(), id);
    this.invalidateCas();
  }

  insertCertificate(c: Omit<IssuedCertificate, "revokedAt" | "revocationReason">): void {
    this.stmts.insertCert.run({
      serial: c.serial,
      caId: c.caId,
      spiffeId: c.spiffeId,
      node: c.node ?? null,
      kind: c.kind,
      notBefore: c.notBefore.getTime(),
      notAfter: c.notAfter.getTime(),
      issuedAt: c.issuedAt.getTime(),
      certDer: c.certDer,
    });
  }

  getCertificate(serial: string): IssuedCertificate | undefined {
    const r = this.stmts.certBySerial.get(serial) as Row | undefined;
    return r ? toCert(r) : undefined;
  }

  listCertificates(f: CertificateFilter = {}): IssuedCertificate[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      args.push(value);
    };
    if (f.spiffeId !== undefined) add("spiffe_id = ?", f.spiffeId);
    if (f.node !== undefined) add("node = ?", f.node);
    if (f.caId !== undefined) add("ca_id = ?", f.caId);
    if (f.unexpiredAt !== undefined) add("not_after > ?", f.unexpiredAt.getTime());
    const sql = `SELECT * FROM certificates ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY issued_at, serial LIMIT ?`;
    args.push(f.limit ?? 1_000_000);
    return (this.db.prepare(sql).all(...args) as Row[]).map(toCert);
  }

  /** Marks a certificate revoked; false when it was already revoked. */
  revokeCertificate(serial: string, at: Date, reason: string): boolean {
    return this.stmts.revokeSerial.run(at.getTime(), reason, serial).changes === 1;
  }

  /** Revoked certificates of a CA that have not expired yet (expired ones leave the CRL). */
  revokedOf(caId: number, now: Date): { serial: string; revokedAt: Date; reason: string }[] {
    return (this.stmts.revokedOfCa.all(caId, now.getTime()) as Row[]).map((r) => ({
      serial: String(r.serial),
      revokedAt: new Date(Number(r.revoked_at)),
      reason: String(r.revocation_reason),
    }));
  }

  /** When the last leaf signed by this CA expires (undefined if it signed none). */
  lastLeafExpiry(caId: number): Date | undefined {
    const r = this.stmts.lastExpiryOfCa.get(caId) as Row | undefined;
    return d(r?.m);
  }

  insertEntry(e: RegistrationEntry): void {
    try {
      this.stmts.insertEntry.run({
        id: e.id,
        spiffeId: e.spiffeId,
        node: e.node,
        workload: e.workload,
        ttlSeconds: e.ttlSeconds ?? null,
        dnsNames: JSON.stringify(e.dnsNames),
        createdAt: e.createdAt.getTime(),
      });
    } catch (err) {
      if (err instanceof Error && /UNIQUE/.test(err.message)) {
        throw new PkiError("conflict", `node '${e.node}' already has an entry for workload '${e.workload}' or ID ${e.spiffeId}`);
      }
      throw err;
    }
  }

  deleteEntry(id: string): boolean {
    return this.stmts.deleteEntry.run(id).changes === 1;
  }

  getEntry(id: string): RegistrationEntry | undefined {
    const r = this.stmts.entryById.get(id) as Row | undefined;
    return r ? toEntry(r) : undefined;
  }

  entriesOf(node?: string): RegistrationEntry[] {
    const rows = node === undefined ? this.stmts.allEntries.all() : this.stmts.entriesOfNode.all(node);
    return (rows as Row[]).map(toEntry);
  }

  entryFor(node: string, spiffeId: string): RegistrationEntry | undefined {
    const r = this.stmts.entryFor.get(node, spiffeId) as Row | undefined;
    return r ? toEntry(r) : undefined;
  }

  upsertNode(n: NodeRecord): void {
    this.stmts.upsertNode.run(n.name, n.spiffeId, n.attestedAt.getTime(), n.lastSerial ?? null);
  }

  getNode(name: string): NodeRecord | undefined {
    const r = this.stmts.nodeByName.get(name) as Row | undefined;
    if (!r) return undefined;
    return {
      name: String(r.name),
      spiffeId: String(r.spiffe_id),
      attestedAt: new Date(Number(r.attested_at)),
      lastSerial: r.last_serial === null ? undefined : String(r.last_serial),
    };
  }

  insertToken(hash: string, node: string, createdAt: Date, expiresAt: Date): void {
    this.stmts.insertToken.run(hash, node, createdAt.getTime(), expiresAt.getTime());
  }

  /**
   * Spends a join token. Returns its node, or why it cannot be used. Runs in
   * the caller's transaction so a failed issuance does not burn the token.
   */
  consumeToken(hash: string, now: Date): { node: string } | { problem: "unknown" | "used" | "expired" } {
    const r = this.stmts.tokenByHash.get(hash) as Row | undefined;
    if (!r) return { problem: "unknown" };
    if (r.used_at !== null) return { problem: "used" };
    if (Number(r.expires_at) <= now.getTime()) return { problem: "expired" };
    if (this.stmts.useToken.run(now.getTime(), hash).changes !== 1) return { problem: "used" };
    return { node: String(r.node) };
  }
}

function migrate(db: Database.Database): void {
  const current = Number(db.pragma("user_version", { simple: true }));
  if (current > MIGRATIONS.length) {
    throw new PkiError("store_error", `store schema version ${current} is newer than this build understands (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
