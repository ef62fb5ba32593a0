/**
 * Ships audit events to a collector over TCP or TLS, octet-counted
 * (RFC 6587 / RFC 5425), at least once.
 *
 * Events go in seq order, in sessions: one connection carries at most
 * maxEvents events or maxMs of traffic (and, with follow, is closed after
 * idleMs without new events), then is closed in order (see
 * ship-transport.ts: the collector's closing its side after our FIN is the
 * only proof it read everything). Only then is the cursor — the last seq of
 * the session — saved in the state file. A lost connection, a stalled
 * collector or a crash of the exporter leaves the cursor at the end of the
 * last proven session, and shipping resumes after it: events of the broken
 * session may arrive twice, none is skipped. Retries wait with jittered
 * exponential back-off; without follow, a run that cannot prove any delivery
 * for timeoutMs fails with delivery_timeout.
 */
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { EventRow } from "../query.js";
import type { ExportFormat } from "./export.js";
import { readShipState, writeShipState } from "./ship-cursor.js";
import { ShipError } from "./ship-errors.js";
import { frameFormatter } from "./ship-framing.js";
import { AuditPageReader, type ExportFilter } from "./reader.js";
import { Backoff, ConnectionLost, socketConnector, type ShipConnection, type ShipConnector, type ShipTarget, type TlsSettings } from "./ship-transport.js";

/** Time for the shipper; tests may pass their own. */
export interface ShipClock {
  now(): number;
  /** Resolves after ms, or early (never rejecting) when signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: ShipClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleepTimer(ms, undefined, { signal }).catch(() => undefined),
};

export interface ShipSessionLimits {
  /** Events per connection before it is closed and the cursor saved. Default 2000. */
  maxEvents?: number;
  /** A connection's lifetime before the same. Default 2000 ms. */
  maxMs?: number;
  /** Follow: close a connection after this long without new events. Default 500 ms. */
  idleMs?: number;
}

export interface ShipRetryInfo {
  /** Failures in a row. */
  attempt: number;
  delayMs: number;
  error: Error;
}

export interface ShipOptions {
  db: string;
  format: ExportFormat;
  filter?: ExportFilter;
  target: ShipTarget;
  tls?: TlsSettings;
  /** The state file holding the cursor. */
  statePath: string;
  /** Keep shipping new events until signal aborts. */
  follow?: boolean;
  /** Without follow: give up when nothing could be delivered for this long. Default 30 000 ms. */
  timeoutMs?: number;
  /** Follow: poll interval while caught up. Default 250 ms. */
  pollMs?: number;
  signal?: AbortSignal;
  session?: ShipSessionLimits;
  /** Back-off between failed attempts (default 250 ms doubling to 10 s, jittered). */
  backoff?: { baseMs?: number; maxMs?: number; random?: () => number };
  /** Bounded waits: connect (10 s), a full socket buffer draining (15 s), the orderly close (5 s). */
  connectTimeoutMs?: number;
  stallMs?: number;
  closeTimeoutMs?: number;
  clock?: ShipClock;
  /** Opens connections; default TCP/TLS sockets (tests inject others). */
  connect?: ShipConnector;
  /** Told about each failed attempt before the back-off wait (the CLI prints it). */
  onRetry?: (info: ShipRetryInfo) => void;
  pageSize?: number;
  productVersion?: string;
  facility?: number;
  hostname?: string;
}

export interface ShipResult {
  /** seq of the last event the collector is known to have read (the saved cursor). */
  lastSeq: number;
  /** Events whose delivery was proven in this run. */
  delivered: number;
  /** Events written again after a lost connection. */
  resent: number;
  /** Connections opened. */
  connections: number;
  /** Failed attempts (connect, write, close). */
  failures: number;
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 1) throw new ShipError("invalid_argument", `${name} must be >= 1`);
  return v;
}

/** Ships the events of o.db after the saved cursor. Throws ShipError, AuditError. */
export async function shipAuditLog(o: ShipOptions): Promise<ShipResult> {
  const clock = o.clock ?? systemClock;
  const timeoutMs = positiveMs("timeoutMs", o.timeoutMs, 30_000);
  const pollMs = positiveMs("pollMs", o.pollMs, 250);
  const maxEvents = o.session?.maxEvents ?? 2000;
  if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) throw new ShipError("invalid_argument", "session.maxEvents must be an integer >= 1");
  const maxMs = positiveMs("session.maxMs", o.session?.maxMs, 2000);
  const idleMs = positiveMs("session.idleMs", o.session?.idleMs, 500);
  const connectMs = positiveMs("connectTimeoutMs", o.connectTimeoutMs, 10_000);
  const stallMs = positiveMs("stallMs", o.stallMs, 15_000);
  const closeMs = positiveMs("closeTimeoutMs", o.closeTimeoutMs, 5000);
  const follow = o.follow === true;
  const frame = frameFormatter(o.format, o);
  const connect = o.connect ?? socketConnector(o.tls);
  const backoff = new Backoff(o.backoff);

  const saved = readShipState(o.statePath);
  const source = AuditPageReader.open(o.db, o.filter ?? {}, { after: saved?.lastSeq ?? 0, snapshotEnd: !follow, pageSize: o.pageSize });
  try {
    const savedHash = saved !== undefined && saved.lastSeq > 0 ? source.hashAt(saved.lastSeq) : undefined;
    if (saved !== undefined && saved.lastSeq > 0 && savedHash !== saved.lastHash) {
      throw new ShipError(
        "state_mismatch",
        `state file ${o.statePath} says event ${saved.lastSeq} (${saved.lastHash.slice(0, 12)}…) was shipped, but this audit log has ${savedHash === undefined ? "no such event" : "another event there"}; ship to a new --state file (or delete this one) to start from the beginning`,
      );
    }
    const r: ShipResult = { lastSeq: saved?.lastSeq ?? 0, delivered: 0, resent: 0, connections: 0, failures: 0 };
    let settledHash = saved?.lastHash ?? "";
    /** Highest seq ever written in this run: anything written again at or below it is a resend. */
    let highestSent = r.lastSeq;
    let conn: ShipConnection | undefined;
    /** The open connection's events: proven only by its orderly close. */
    const freshSession = (): { events: number; startedAt: number; lastWriteAt: number; lastSeq: number; lastHash: string } => ({
      events: 0,
      startedAt: 0,
      lastWriteAt: 0,
      lastSeq: r.lastSeq,
      lastHash: settledHash,
    });
    let session = freshSession();
    let lastProgressAt = clock.now();
    let attempt = 0;
    let firstError: Error | undefined;
    const aborted = (): boolean => o.signal?.aborted === true;
    /** A wait bounded by what is left of the timeout (without follow). */
    const bounded = (ms: number): number => (follow ? ms : Math.max(1, Math.min(ms, lastProgressAt + timeoutMs - clock.now())));

    const checkpoint = async (): Promise<void> => {
      const c = conn!;
      conn = undefined;
      await c.finish(bounded(closeMs));
      if (session.lastSeq !== r.lastSeq) {
        r.delivered += session.events;
        r.lastSeq = session.lastSeq;
        settledHash = session.lastHash;
        writeShipState(o.statePath, { lastSeq: r.lastSeq, lastHash: settledHash, to: o.target.url, savedAt: new Date(clock.now()).toISOString() });
      }
      session = freshSession();
      lastProgressAt = clock.now();
      attempt = 0;
      backoff.reset();
    };

    const failed = async (err: Error): Promise<void> => {
      conn?.destroy();
      conn = undefined;
      source.rewind(r.lastSeq);
      session = freshSession();
      r.failures++;
      attempt++;
      const delayMs = backoff.next();
      if (attempt === 1) firstError = err;
      if (!follow && clock.now() + delayMs - lastProgressAt >= timeoutMs) {
        // The last attempt may only have hit the end of the timeout; the first one usually says what is wrong.
        const first = firstError !== undefined && firstError.message !== err.message ? ` (first failure: ${firstError.message})` : "";
        throw new ShipError("delivery_timeout", `could not deliver to ${o.target.url} within ${timeoutMs} ms: ${err.message}${first}`, { cause: err });
      }
      o.onRetry?.({ attempt, delayMs, error: err });
      await clock.sleep(delayMs, o.signal);
    };

    const send = async (rows: EventRow[]): Promise<void> => {
      if (conn === undefined) {
        conn = await connect(o.target, bounded(connectMs), o.signal);
        r.connections++;
        session.startedAt = clock.now();
      }
      let chunk = "";
      for (const row of rows) chunk += frame(row);
      await conn.write(chunk, bounded(stallMs));
      const last = rows[rows.length - 1];
      for (const row of rows) if (row.seq <= highestSent) r.resent++;
      highestSent = Math.max(highestSent, last.seq);
      session.events += rows.length;
      session.lastSeq = last.seq;
      session.lastHash = last.hash;
      session.lastWriteAt = clock.now();
    };

    while (!aborted()) {
      try {
        let rows = source.nextPage();
        const room = maxEvents - session.events;
        if (rows.length > room) {
          // A session never carries more than maxEvents: that bounds what a failure can resend.
          rows = rows.slice(0, room);
          source.rewind(rows[rows.length - 1].seq);
        }
        if (rows.length > 0) {
          await send(rows);
          if (session.events >= maxEvents || clock.now() - session.startedAt >= maxMs) await checkpoint();
          continue;
        }
        if (source.done) {
          if (conn === undefined) break; // everything up to the snapshot is proven delivered
          await checkpoint();
          continue;
        }
        if (conn !== undefined) {
          const now = clock.now();
          if (now - session.lastWriteAt >= idleMs || now - session.startedAt >= maxMs) {
            await checkpoint();
            continue;
          }
        }
        await clock.sleep(source.caughtUp ? pollMs : 0, o.signal);
      } catch (err) {
        // Only connection trouble is retried; a store or state-file failure ends the run.
        if (!(err instanceof ConnectionLost)) throw err;
        if (aborted()) break;
        await failed(err);
      }
    }
    // Stopped (follow): prove what the open session carried, if the collector lets us within the bound.
    if (conn !== undefined) {
      try {
        await checkpoint();
      } catch {
        // not proven: those events are shipped again next time
      }
    }
    return r;
  } finally {
    source.close();
  }
}
