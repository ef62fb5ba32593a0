/**
 * Cost guards for the append path (the figures themselves are in
 * bench/RESULTS.md, audit-append): signing stays off the per-append path,
 * and appending with checkpoints on is not grossly slower than without —
 * a signature or an fsync per append would be several times slower.
 */
import test from "ava";
import Database from "better-sqlite3";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { TrustedKeys, generateSigningKey, type SigningKey } from "../../audit/keys.js";
import { AuditLog } from "../../audit/store.js";
import { verifyAuditLog } from "../../audit/verify.js";
import { input, removeTempDirs, tempDir } from "./helpers/signed-log.js";

test.after.always(removeTempDirs);

const COUNT = 6000;

/** Appends COUNT events; returns appends/s. */
function timeAppends(path: string, key: SigningKey | undefined): number {
  const fixed = new Date(Date.UTC(2026, 10, 22)); // a frozen clock: only the count rule can sign
  const log = AuditLog.open(path, { clock: () => fixed, checkpoints: key && { key, everyEvents: 1000, timer: false, onClose: false } });
  for (let i = 0; i < 500; i++) log.append(input(i));
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) log.append(input(i));
  const rate = (COUNT * 1000) / (performance.now() - t0);
  log.close();
  return rate;
}

test("checkpoints are signed once per 1000 appends, and cost the append path little", (t) => {
  const dir = tempDir("audit-perf-");
  const key = generateSigningKey();
  // Interleaved, best of three each: a busy moment on a shared machine hits both alike.
  const plain: number[] = [];
  const signed: number[] = [];
  for (let r = 0; r < 3; r++) {
    plain.push(timeAppends(join(dir, `plain-${r}.db`), undefined));
    signed.push(timeAppends(join(dir, `signed-${r}.db`), key));
  }
  const db = new Database(join(dir, "signed-0.db"), { readonly: true });
  const cps = db.prepare("SELECT seq FROM checkpoints ORDER BY seq").all() as { seq: number }[];
  db.close();
  t.deepEqual(cps.map((c) => c.seq), Array.from({ length: 6 }, (_, i) => (i + 1) * 1000));
  t.like(verifyAuditLog(join(dir, "signed-0.db"), { keys: TrustedKeys.of(key) }), { ok: true, count: COUNT + 500, checkpoints: { count: 6, unsigned: 500 } });
  const ratio = Math.max(...signed) / Math.max(...plain);
  t.log(`appends/s without checkpoints ${plain.map(Math.round).join(", ")}; with ${signed.map(Math.round).join(", ")}`);
  t.true(ratio > 0.6, `with checkpoints ${Math.round(ratio * 100)} % of the rate without`);
  // A floor far below the goal (20,000/s on a quiet machine): catches an fsync or a signature per append.
  t.true(Math.max(...signed) > 2500, `${Math.round(Math.max(...signed))} appends/s`);
});
