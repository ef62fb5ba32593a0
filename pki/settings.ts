/** CA settings kept in the store's meta table, with the defaults of DESIGN.md §3. */
import { PkiError } from "./errors.js";
import type { CaStore } from "./store/ca-store.js";

export interface CaSettings {
  trustDomain: string;
  keyType: string;
  /** Leaf TTL when a caller asks for none. */
  leafTtlSeconds: number;
  /** No leaf lives longer than this. */
  maxLeafTtlSeconds: number;
  /** TTL of node (agent) SVIDs. */
  nodeTtlSeconds: number;
  /** Lifetime of a self-signed root or a minted intermediate. */
  caTtlSeconds: number;
  /** How long a CRL is valid; it is re-signed at half of that, and on every revocation. */
  crlTtlSeconds: number;
  /** How far NotBefore is back-dated, for clock skew between hosts. */
  backdateSeconds: number;
  /** Hint to bundle consumers on how often to refetch (SPIFFE bundle `spiffe_refresh_hint`). */
  bundleRefreshHintSeconds: number;
}

export const DEFAULT_SETTINGS: Omit<CaSettings, "trustDomain"> = {
  keyType: "ec-p256",
  leafTtlSeconds: 3600,
  maxLeafTtlSeconds: 86400,
  nodeTtlSeconds: 3600,
  caTtlSeconds: 365 * 86400,
  crlTtlSeconds: 86400,
  backdateSeconds: 60,
  bundleRefreshHintSeconds: 300,
};

const KEYS: Record<keyof CaSettings, string> = {
  trustDomain: "trust_domain",
  keyType: "key_type",
  leafTtlSeconds: "leaf_ttl_seconds",
  maxLeafTtlSeconds: "max_leaf_ttl_seconds",
  nodeTtlSeconds: "node_ttl_seconds",
  caTtlSeconds: "ca_ttl_seconds",
  crlTtlSeconds: "crl_ttl_seconds",
  backdateSeconds: "backdate_seconds",
  bundleRefreshHintSeconds: "bundle_refresh_hint_seconds",
};

export function validateSettings(s: CaSettings): CaSettings {
  const positive = (name: keyof CaSettings, v: number, max: number) => {
    if (!Number.isInteger(v) || v <= 0 || v > max) {
      throw new PkiError("invalid_argument", `${KEYS[name]} must be a whole number of seconds from 1 to ${max}, got ${v}`);
    }
  };
  positive("leafTtlSeconds", s.leafTtlSeconds, 86400);
  positive("maxLeafTtlSeconds", s.maxLeafTtlSeconds, 86400);
  positive("nodeTtlSeconds", s.nodeTtlSeconds, 86400);
  positive("caTtlSeconds", s.caTtlSeconds, 20 * 365 * 86400);
  positive("crlTtlSeconds", s.crlTtlSeconds, 30 * 86400);
  positive("bundleRefreshHintSeconds", s.bundleRefreshHintSeconds, 86400);
  if (!Number.isInteger(s.backdateSeconds) || s.backdateSeconds < 0 || s.backdateSeconds > 3600) {
    throw new PkiError("invalid_argument", `backdate_seconds must be from 0 to 3600, got ${s.backdateSeconds}`);
  }
  if (s.leafTtlSeconds > s.maxLeafTtlSeconds) {
    throw new PkiError("invalid_argument", "leaf_ttl_seconds must not exceed max_leaf_ttl_seconds");
  }
  return s;
}

export function saveSettings(store: CaStore, s: CaSettings): void {
  for (const [k, col] of Object.entries(KEYS) as [keyof CaSettings, string][]) store.setMeta(col, String(s[k]));
}

export function loadSettings(store: CaStore): CaSettings {
  const td = store.getMeta(KEYS.trustDomain);
  if (td === undefined) throw new PkiError("not_found", "this directory holds no initialised CA (run `mesh ca init`)");
  const num = (k: keyof typeof DEFAULT_SETTINGS): number => {
    const v = store.getMeta(KEYS[k]);
    return v === undefined ? Number(DEFAULT_SETTINGS[k]) : Number(v);
  };
  return {
    trustDomain: td,
    keyType: store.getMeta(KEYS.keyType) ?? DEFAULT_SETTINGS.keyType,
    leafTtlSeconds: num("leafTtlSeconds"),
    maxLeafTtlSeconds: num("maxLeafTtlSeconds"),
    nodeTtlSeconds: num("nodeTtlSeconds"),
    caTtlSeconds: num("caTtlSeconds"),
    crlTtlSeconds: num("crlTtlSeconds"),
    backdateSeconds: num("backdateSeconds"),
    bundleRefreshHintSeconds: num("bundleRefreshHintSeconds"),
  };
}
