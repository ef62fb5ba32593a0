/**
 * The sidecar's YAML config (DESIGN §7): one file per `mesh proxy` process.
 * Listeners (inbound mTLS, outbound, ingress) with their filter chains and
 * routes, and the clusters they route to. Every object is strict, so a typo
 * is an error naming the key path, and nothing starts on a bad file.
 */
import { z } from "zod";
import { clusterSchema } from "../cluster/schema.js";
import { durationMs } from "../duration.js";
import { routesSchema } from "../routing/schema.js";
import { nameSchema } from "../routing/schema.js";

const listen = z.string().max(300).regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected HOST:PORT");
const path = z.string().min(1).max(4096);

/** `filters: [{ authz: {...} }, { rate_limit: {...} }]`: each item names one filter; its block is checked by that filter's schema. */
const filterItem = z
  .record(z.string().max(64), z.unknown())
  .refine((o) => Object.keys(o).length === 1, { message: "each filter item has exactly one key: the filter's name" });

export const LISTENER_KINDS = ["inbound", "outbound", "ingress"] as const;

export const listenerSchema = z
  .object({
    name: nameSchema,
    kind: z.enum(LISTENER_KINDS),
    listen,
    /** Ingress only: serve HTTPS with this certificate (no client certificates). */
    tls: z.object({ cert_file: path, key_file: path }).strict().optional(),
    filters: z.array(filterItem).max(32).default([]),
    routes: routesSchema,
    /** Largest request body a filter may buffer (WAF, HMAC), bytes. */
    max_body_bytes: z.number().int().min(0).max(64 * 1024 * 1024).default(1024 * 1024),
    /** Longest wait for a buffered body. */
    body_timeout: durationMs().default(30_000),
    /** Largest request head, bytes (Node's max header size is fixed per process; this is checked per listener). */
    max_header_count: z.number().int().min(8).max(1000).default(100),
    /** How long an idle client connection is kept. */
    idle_timeout: durationMs().default(120_000),
    /** Most concurrent client connections. */
    max_connections: z.number().int().min(1).max(1_000_000).default(10_000),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.tls && l.kind !== "ingress") ctx.addIssue({ code: "custom", path: ["tls"], message: "only an ingress listener takes a tls block (inbound always uses the SDS identity with mTLS)" });
  });

export const proxyConfigSchema = z
  .object({
    /** Workload name, used in logs and metrics. */
    name: nameSchema,
    sds: z
      .object({
        socket: path,
        app_token_file: path.optional(),
        /** Refuse identities outside this trust domain (default: whatever the bundle's leaf says). */
        trust_domain: z.string().max(255).optional(),
        /** How long to wait for the first identity before giving up at start. */
        wait_timeout: durationMs().default(30_000),
      })
      .strict(),
    admin: z
      .object({ listen: listen.default("127.0.0.1:15000") })
      .strict()
      .default({ listen: "127.0.0.1:15000" }),
    audit_db: path.optional(),
    access_log: z.union([z.literal("stdout"), z.literal("off"), path]).default("stdout"),
    /** How long SIGTERM waits for requests in flight before closing connections. */
    drain_timeout: durationMs({ min: 0 }).default(10_000),
    listeners: z.array(listenerSchema).min(1).max(16),
    clusters: z.array(clusterSchema).max(1000).default([]),
  })
  .strict();

export type ProxyConfigInput = z.input<typeof proxyConfigSchema>;
export type ProxyConfig = z.output<typeof proxyConfigSchema>;
export type ListenerConfig = z.output<typeof listenerSchema>;
