/**
 * The `basic` authentication provider: HTTP Basic (RFC 7617) against an
 * htpasswd file of bcrypt or scrypt hashes, with Kong basic-auth's behaviour
 * (consumer = user name, hide_credentials) and a guard against guessing:
 * failures are counted per user and per client address; past slow_after
 * each failure is answered more slowly, at lock_after the user / address is
 * locked out (429, Retry-After) without its password being checked.
 *
 * Checks that cost time are equalised: an unknown user is checked against a
 * dummy hash of the usual cost, so a missing account answers as slowly as a
 * wrong password. A success is remembered (verify_cache), so a warm request
 * is a single HMAC. Identical checks running at once share one computation
 * and count as one attempt; every other attempt is counted before its
 * password is checked, so parallel guesses cannot outrun the lockout.
 */
import { resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { FilterRequest } from "../filters/types.js";
import { parseBasicAuthorization } from "./basic-header.js";
import { VerifyCache } from "./basic-cache.js";
import { basicConfigSchema, type BasicConfig } from "./basic-schema.js";
import { HtpasswdFile, type FileReport } from "./htpasswd.js";
import { verifyPassword, type StoredHash } from "./htpasswd-hash.js";
import { Lockout, retryAfterSeconds } from "./lockout.js";
import type { AuthFailed, AuthOk, AuthOutcome, AuthProvider, ProviderDeps, ProviderFactory } from "./types.js";

export { hashPassword, type HashOptions } from "./htpasswd-hash.js";
export { basicConfigSchema, type BasicConfig, type BasicConfigInput } from "./basic-schema.js";

/** Checks running at once that can share a computation; past this each runs on its own. */
const MAX_INFLIGHT = 4096;

export interface BasicDeps extends ProviderDeps {
  /** Waits before a failure is answered (default: a timer). Tests pass a fake that records the value. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Password check (default verifyPassword). Tests pass a spy to see the dummy check for unknown users. */
  readonly verify?: (password: string, hash: StoredHash) => Promise<boolean>;
  /** Reload results and warnings about the file (never a hash or password). */
  readonly report?: (r: FileReport) => void;
  /** Follow the file with fs.watch (default true; the stat poll runs either way). */
  readonly watch?: boolean;
}

export interface BasicStatus {
  readonly users: number;
  readonly generation: number;
  /** The last reload problem (the previous table is in use), if any. */
  readonly problem?: string;
  readonly cacheEntries: number;
  readonly tracked: { readonly users: number; readonly addresses: number };
}

const MISSING: AuthOutcome = { kind: "missing" };

export class BasicProvider implements AuthProvider {
  readonly type = "basic" as const;
  readonly needsBody = false;
  readonly lockout: Lockout;
  private readonly file: HtpasswdFile;
  private readonly cache: VerifyCache;
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly challenge: string;
  get missingChallenge(): string {
    return this.challenge;
  }
  private readonly strip: readonly string[] | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly verify: (password: string, hash: StoredHash) => Promise<boolean>;

  constructor(
    readonly name: string,
    config: BasicConfig,
    deps: BasicDeps,
  ) {
    const l = config.lockout;
    this.lockout = new Lockout({
      slowAfter: l.slow_after,
      slowDelayMs: l.slow_delay,
      maxDelayMs: l.max_delay,
      lockAfter: l.lock_after,
      lockMs: l.lock_time,
      windowMs: l.window,
      maxTracked: l.max_tracked,
    });
    this.cache = new VerifyCache(config.verify_cache, config.verify_cache_entries);
    this.challenge = `Basic realm="${config.realm}", charset="UTF-8"`;
    this.strip = config.hide_credentials ? ["authorization"] : undefined;
    this.sleep = deps.sleep ?? ((ms) => delay(ms));
    this.verify = deps.verify ?? verifyPassword;
    this.file = new HtpasswdFile({
      path: resolve(deps.baseDir, config.htpasswd_file),
      pollMs: config.reload_interval,
      watch: deps.watch,
      report: deps.report,
      onChange: () => this.cache.clear(),
    });
  }

  authenticate(req: FilterRequest, now: Date): AuthOutcome | Promise<AuthOutcome> {
    const creds = parseBasicAuthorization(req.headers.authorization);
    if (creds.kind === "missing") return MISSING;
    if (creds.kind === "malformed") return this.fail(401, "basic_malformed", `malformed Basic credentials: ${creds.why}`);
    const { user, password } = creds;
    const t = now.getTime();
    const table = this.file.table;
    const stored = table.users.get(user);
    // Only a listed user is named: an unknown "user name" may be a password typed in the wrong field.
    const principal = stored ? user : undefined;
    const lock = this.lockout.locked(user, req.remoteAddress, t);
    if (lock.ms > 0) {
      const which = lock.user && lock.address ? "user and client address" : lock.user ? "user" : "client address";
      return {
        kind: "fail",
        status: 429,
        code: "basic_locked_out",
        reason: `too many failed attempts for this ${which}; locked out`,
        headers: { "retry-after": String(retryAfterSeconds(lock.ms)) },
        ...(principal ? { principal } : {}),
      };
    }
    const hash = stored ?? table.dummy;
    const key = this.cache.key(user, password, hash.text);
    if (stored && this.cache.has(key, t)) {
      this.lockout.clear(user, req.remoteAddress);
      return this.ok(user);
    }
    return this.check(user, password, hash, key, stored !== undefined, req.remoteAddress, t);
  }

  private async check(user: string, password: string, hash: StoredHash, key: string, known: boolean, address: string, t: number): Promise<AuthOutcome> {
    const generation = this.file.generation;
    let pending = this.inflight.get(key);
    if (!pending) {
      // Counted before the check; a success clears it. Parallel guesses therefore meet the lock.
      this.lockout.recordFailure(user, address, t);
      pending = this.verify(password, hash).catch(() => false);
      if (this.inflight.size < MAX_INFLIGHT) {
        this.inflight.set(key, pending);
        void pending.finally(() => this.inflight.delete(key));
      }
    }
    const good = (await pending) && known;
    if (good) {
      this.lockout.clear(user, address);
      if (this.file.generation === generation) this.cache.remember(key, t);
      return this.ok(user);
    }
    const wait = this.lockout.delayMs(user, address, t);
    if (wait > 0) await this.sleep(wait);
    return this.fail(401, "basic_invalid", "invalid user name or password", known ? user : undefined);
  }

  private ok(user: string): AuthOk {
    return { kind: "ok", principal: user, consumer: user, method: "basic", ...(this.strip ? { stripHeaders: this.strip } : {}) };
  }

  private fail(status: 401, code: string, reason: string, principal?: string): AuthFailed {
    return { kind: "fail", status, code, reason, challenge: this.challenge, ...(principal ? { principal } : {}) };
  }

  /** Looks at the file now (the watcher and the poll call this too). */
  refresh(): Promise<void> {
    return this.file.refresh();
  }

  status(): BasicStatus {
    const problem = this.file.problem;
    return {
      users: this.file.table.users.size,
      generation: this.file.generation,
      ...(problem ? { problem } : {}),
      cacheEntries: this.cache.size,
      tracked: this.lockout.tracked,
    };
  }

  close(): void {
    this.file.close();
  }
}

export const basicProvider: ProviderFactory<BasicConfig> = {
  type: "basic",
  schema: basicConfigSchema,
  create: (name: string, config: BasicConfig, deps: BasicDeps) => new BasicProvider(name, config, deps),
};
