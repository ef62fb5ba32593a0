/**
 * Remembers successful password checks for a while, so a warm request does
 * not pay bcrypt or scrypt again. The key is an HMAC-SHA-256, under a random
 * per-process key, of user ":" password NUL stored-hash: a changed hash
 * misses by itself, and a memory dump does not give an offline attacker a
 * fast unsalted hash of each password. Bounded LRU; cleared on reload.
 */
import { createHmac, randomBytes } from "node:crypto";

export class VerifyCache {
  private readonly secret = randomBytes(32);
  /** key → expiry (ms); Map order is least recently used first. */
  private readonly entries = new Map<string, { expires: number; stamp: number }>();
  private inserts = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** user cannot hold ':' or NUL and the hash holds neither, so the input is unambiguous. */
  key(user: string, password: string, hashText: string): string {
    return createHmac("sha256", this.secret).update(user).update(":").update(password).update("\0").update(hashText).digest("base64");
  }

  has(key: string, now: number): boolean {
    const e = this.entries.get(key);
    if (e === undefined) return false;
    if (e.expires <= now) {
      this.entries.delete(key);
      return false;
    }
    // moved to the recent end only once aged past half the capacity: a delete and re-insert per hit makes V8 rehash a full Map over and over
    if (this.inserts - e.stamp >= this.maxEntries / 2) {
      this.entries.delete(key);
      e.stamp = ++this.inserts;
      this.entries.set(key, e);
    }
    return true;
  }

  remember(key: string, now: number): void {
    if (!this.enabled) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { expires: now + this.ttlMs, stamp: ++this.inserts });
  }

  clear(): void {
    this.entries.clear();
  }
}
