/**
 * Verified tokens, keyed by the SHA-256 of the token (the token itself is
 * never kept as a key), each until the token's exp. Bounded LRU: a hit moves
 * the entry to the back, an insert past capacity drops the oldest.
 */
import { createHash } from "node:crypto";

export function tokenKey(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

export class VerifiedCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly expMs: number }>();

  constructor(readonly capacity: number) {}

  get enabled(): boolean {
    return this.capacity > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, nowMs: number): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (nowMs >= e.expMs) return undefined;
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: V, expMs: number): void {
    if (this.capacity === 0) return;
    this.entries.delete(key);
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expMs });
  }

  clear(): void {
    this.entries.clear();
  }
}
