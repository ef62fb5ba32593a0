/**
 * End-to-end fixture for the sidecar proxy: an in-process CA and SDS server
 * (so a test decides when identities rotate and when a CRL ships), `mesh
 * proxy` as child processes, scripted upstream apps in the test process, and
 * clients (curl, node http). Every wait is bounded; `close()` kills every
 * child and server it started.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { CertificateAuthority, chainPem } from "../../pki/ca.js";
import { currentCrlsPem, revoke } from "../../pki/revocation.js";
import { SdsServer } from "../../sds-server/server.js";
import { metricValue, waitFor as pollUntil } from "./agent-env.js";
import { MESH_BIN, PASSPHRASE, removeDir, runAsync, tempDir } from "./env.js";
import { sleep } from "./mesh-cli.js";

export const TD = "example.org";
export const idOf = (sa: string): string => `spiffe://${TD}/ns/e2e/sa/${sa}`;
/** Istio principal form (authz policies): no spiffe:// prefix. */
export const principalOf = (sa: string): string => `${TD}/ns/e2e/sa/${sa}`;

export { metricValue, sleep };

/** Polls cond every 50 ms until it returns something other than undefined/false, at most timeoutMs. */
export const waitFor = <T>(cond: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> =>
  pollUntil(cond, timeoutMs, what, 50);

export interface Svid {
  spiffeId: string;
  serial: string;
  chainPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
  notAfter: Date;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningProxy {
  name: string;
  child: ChildProcess;
  /** Port of each listener, by listener name. */
  ports: Record<string, number>;
  /** Host of each listener, by listener name. */
  hosts: Record<string, string>;
  adminPort: number;
  exited: Promise<ChildExit>;
  /** stdout and stderr so far. */
  log(): string;
}

export interface ListenerSpec {
  name: string;
  kind: "inbound" | "outbound" | "ingress";
  filters?: unknown[];
  routes: unknown[];
  [key: string]: unknown;
}

/** Issues SVIDs from a throw-away CA whose clock the fixture can move (for expired certificates). */
class TestCa {
  offsetMs = 0;
  readonly ca: CertificateAuthority;
  constructor(
    dir: string,
    private readonly certDir: string,
  ) {
    // the CA is born two hours "ago", so certificates can be issued in the past
    this.offsetMs = -2 * 3600_000;
    this.ca = CertificateAuthority.init(dir, { trustDomain: TD, passphrase: PASSPHRASE, clock: () => new Date(Date.now() + this.offsetMs) });
    this.offsetMs = 0;
  }

  /** A new key and SVID; `ageSeconds` issues it that long ago (with ttlSeconds < ageSeconds it is already expired). */
  issue(sa: string, o: { ttlSeconds?: number; ageSeconds?: number } = {}): Svid {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    this.offsetMs = -(o.ageSeconds ?? 0) * 1000;
    try {
      const s = this.ca.issue({ spiffeId: idOf(sa), publicKey, ttlSeconds: o.ttlSeconds ?? 3600, kind: "manual" });
      const svid: Svid = {
        spiffeId: s.spiffeId,
        serial: s.serial,
        chainPem: chainPem(s.chainDer),
        keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        certFile: join(this.certDir, `${s.serial}.pem`),
        keyFile: join(this.certDir, `${s.serial}.key`),
        notAfter: s.notAfter,
      };
      writeFileSync(svid.certFile, svid.chainPem);
      writeFileSync(svid.keyFile, svid.keyPem, { mode: 0o600 });
      return svid;
    } finally {
      this.offsetMs = 0;
    }
  }
}

export class ProxyEnv {
  readonly dir: string;
  readonly sds: SdsServer;
  private readonly main: TestCa;
  private other: TestCa | undefined;
  private readonly current = new Map<string, Svid>();
  private readonly bySerial = new Map<string, Svid>();
  private readonly children: ChildProcess[] = [];
  private readonly servers: Server[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    mkdirSync(join(dir, "certs"));
    this.main = new TestCa(join(dir, "ca"), join(dir, "certs"));
    this.sds = new SdsServer({ dir: join(dir, "sds") });
  }

  static create(prefix = "mesh-proxy-e2e-"): ProxyEnv {
    return new ProxyEnv(tempDir(prefix));
  }

  get ca(): CertificateAuthority {
    return this.main.ca;
  }

  issue(sa: string, o: { ttlSeconds?: number; ageSeconds?: number } = {}): Svid {
    const svid = this.main.issue(sa, o);
    this.bySerial.set(svid.serial.toLowerCase(), svid);
    return svid;
  }

  /** An SVID this fixture issued, by serial. */
  svidOf(serial: string): Svid {
    const svid = this.bySerial.get(serial.toLowerCase());
    if (!svid) throw new Error(`no SVID with serial ${serial} was issued here`);
    return svid;
  }

  /** An SVID for the same SPIFFE ID from a different CA (same trust domain), which no sidecar trusts. */
  issueFromOtherCa(sa: string): Svid {
    if (!this.other) {
      mkdirSync(join(this.dir, "certs-other"));
      this.other = new TestCa(join(this.dir, "ca-other"), join(this.dir, "certs-other"));
    }
    return this.other.issue(sa);
  }

  bundlePem(): string {
    return this.ca.bundlePem();
  }

  crlPem(): string {
    return currentCrlsPem(this.ca);
  }

  /** Creates the workload's SDS socket; returns its path. */
  async workload(name: string): Promise<string> {
    await this.sds.addWorkload(name);
    return this.sds.socketPath(name);
  }

  /** Publishes an identity (a fresh one by default) with the current bundle and CRL. */
  publish(workload: string, svid: Svid = this.issue(workload)): Svid {
    this.current.set(workload, svid);
    this.sds.setSecrets(workload, {
      default: { certificateChainPem: svid.chainPem, privateKeyPem: svid.keyPem },
      ROOTCA: { trustedCaPem: this.bundlePem(), crlPem: this.crlPem() },
    });
    return svid;
  }

  /** Revokes a certificate at the CA and ships the new CRL to every workload (their identities unchanged). */
  revoke(serial: string): void {
    revoke(this.ca, { serial }, "keyCompromise");
    for (const [w, svid] of this.current) this.publish(w, svid);
  }

  /**
   * A sidecar config with the fixture's defaults (SDS socket, admin on
   * 127.0.0.1:0, no access log). Listeners without `listen` get port 0 on
   * 127.0.0.2, .3, ...: the config loader refuses the same "HOST:0" twice.
   */
  proxyConfig(name: string, listeners: ListenerSpec[], clusters: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      name,
      sds: { socket: this.sds.socketPath(name), wait_timeout: "20s" },
      admin: { listen: "127.0.0.1:0" },
      access_log: "off",
      drain_timeout: "5s",
      listeners: listeners.map((l, i) => ({ listen: `127.0.0.${i + 2}:0`, ...l })),
      clusters,
      ...extra,
    };
  }

  writeYaml(file: string, obj: unknown): string {
    const path = join(this.dir, file);
    writeFileSync(path, toYaml(obj));
    return path;
  }

  /** Starts `mesh proxy` with this config and waits (bounded) for its ready file. */
  async startProxy(config: Record<string, unknown>, timeoutMs = 20_000): Promise<RunningProxy> {
    const name = String(config.name);
    const cfg = this.writeYaml(`${name}-${Date.now()}.yaml`, config);
    const readyFile = join(this.dir, `${name}-${Date.now()}-ready.json`);
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith("MESH_")) delete env[k];
    const child = spawn(process.execPath, [MESH_BIN, "proxy", "--config", cfg, "--ready-file", readyFile, "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"], env });
    this.children.push(child);
    let log = "";
    child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    const exited = new Promise<ChildExit>((r) => child.on("exit", (code, signal) => r({ code, signal })));
    const ready = await waitFor(
      () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`proxy ${name} exited (${child.exitCode ?? child.signalCode}) before it was ready: ${log}`);
        try {
          const v = JSON.parse(readFileSync(readyFile, "utf8")) as { listeners: Record<string, number>; admin_port: number; pid: number };
          return v.pid === child.pid ? v : undefined;
        } catch {
          return undefined;
        }
      },
      timeoutMs,
      `proxy ${name}'s ready file`,
    ).catch((err: Error) => {
      child.kill("SIGKILL");
      throw new Error(`${err.message}\n${log}`);
    });
    const hosts: Record<string, string> = {};
    for (const l of (config.listeners ?? []) as { name: string; listen: string }[]) hosts[l.name] = l.listen.slice(0, l.listen.lastIndexOf(":"));
    return { name, child, ports: ready.listeners, hosts, adminPort: ready.admin_port, exited, log: () => log };
  }

  /** A scripted app on 127.0.0.1:0 in this process; `hits` records every request it received. */
  async startApp(handler: (req: IncomingMessage, res: ServerResponse, app: App) => void = echo): Promise<App> {
    const server = createServer();
    this.servers.push(server);
    const sockets = new Set<Socket>();
    server.on("connection", (s: Socket) => {
      sockets.add(s);
      s.once("close", () => sockets.delete(s));
    });
    const app: App = {
      server,
      port: 0,
      address: "",
      hits: [],
      close: () =>
        new Promise<void>((r) => {
          server.close(() => r());
          for (const s of sockets) s.destroy();
        }),
    };
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      app.hits.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, at: Date.now() });
      handler(req, res, app);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    app.port = (server.address() as AddressInfo).port;
    app.address = `127.0.0.1:${app.port}`;
    return app;
  }

  async close(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); })));
    await this.sds.close();
    this.main.ca.close();
    this.other?.ca.close();
    removeDir(this.dir);
  }
}

export interface Hit {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  at: number;
}

export interface App {
  server: Server;
  port: number;
  address: string;
  hits: Hit[];
  close(): Promise<void>;
}

/** Answers 200 with JSON describing what arrived (method, url, headers). */
export function echo(req: IncomingMessage, res: ServerResponse, app?: App): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.stringify({ port: app?.port, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  });
}

/** Echoes after `ms` (unless the client went away first). */
export function delayedEcho(ms: number): (req: IncomingMessage, res: ServerResponse, app: App) => void {
  return (req, res, app) => {
    const t = setTimeout(() => echo(req, res, app), ms);
    res.once("close", () => clearTimeout(t));
  };
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Target {
  host: string;
  port: number;
}

/** Where a proxy's listener is. */
export function listenerOf(p: RunningProxy, name: string): Target {
  const port = p.ports[name];
  if (port === undefined) throw new Error(`proxy ${p.name} has no listener ${name}`);
  return { host: p.hosts[name] ?? "127.0.0.1", port };
}

/** One plain-HTTP request (to an outbound or ingress listener, or an admin port on 127.0.0.1). */
export function httpCall(to: Target | number, o: { path?: string; method?: string; headers?: Record<string, string>; body?: string; agent?: Agent | false; timeoutMs?: number } = {}): Promise<HttpResult> {
  const { host, port } = typeof to === "number" ? { host: "127.0.0.1", port: to } : to;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host, port, path: o.path ?? "/", method: o.method ?? "GET", headers: o.headers, agent: o.agent ?? false, timeout: o.timeoutMs ?? 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(o.body);
  });
}

export const adminGet = (p: RunningProxy, path: string): Promise<HttpResult> => httpCall(p.adminPort, { path });

/** The `error.code` of a proxy's JSON local reply, or undefined. */
export function errorCode(body: string): string | undefined {
  try {
    const v = JSON.parse(body) as { error?: { code?: unknown } };
    return typeof v.error?.code === "string" ? v.error.code : undefined;
  } catch {
    return undefined;
  }
}

export interface CurlResult {
  /** HTTP status, 0 when no response came. */
  status: number;
  headers: string;
  body: string;
  exit: number | null;
  stderr: string;
}

/** curl over HTTPS to an inbound listener: -k (SVIDs name no host), optional client certificate. */
export async function curlTls(to: Target, path: string, o: { cert?: Svid; headers?: string[]; method?: string } = {}): Promise<CurlResult> {
  const args = ["-sS", "-k", "--max-time", "10", "-D", "-", "-w", "\n%{http_code}"];
  if (o.cert) args.push("--cert", o.cert.certFile, "--key", o.cert.keyFile);
  for (const h of o.headers ?? []) args.push("-H", h);
  if (o.method) args.push("-X", o.method);
  args.push(`https://${to.host}:${to.port}${path}`);
  return parseCurl(await runAsync("curl", args));
}

/** curl over plain HTTP. */
export async function curlHttp(url: string, headers: string[] = []): Promise<CurlResult> {
  const args = ["-sS", "--max-time", "10", "-D", "-", "-w", "\n%{http_code}"];
  for (const h of headers) args.push("-H", h);
  args.push(url);
  return parseCurl(await runAsync("curl", args));
}

function parseCurl(r: { status: number | null; stdout: string; stderr: string }): CurlResult {
  const cut = r.stdout.lastIndexOf("\n");
  const status = Number(r.stdout.slice(cut + 1)) || 0;
  const rest = r.stdout.slice(0, Math.max(cut, 0));
  const sep = rest.indexOf("\r\n\r\n");
  return { status, headers: sep < 0 ? rest : rest.slice(0, sep), body: sep < 0 ? "" : rest.slice(sep + 4), exit: r.status, stderr: r.stderr };
}

/** Value of one response header in curl's -D output (last occurrence), lower-cased name. */
export function headerOf(headers: string, name: string): string | undefined {
  let v: string | undefined;
  for (const line of headers.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0 && line.slice(0, i).trim().toLowerCase() === name) v = line.slice(i + 1).trim();
  }
  return v;
}

/** Sends SIGTERM and resolves with the exit, or undefined if still running after ms. */
export async function terminate(p: { child: ChildProcess; exited: Promise<ChildExit> }, ms: number): Promise<ChildExit | undefined> {
  p.child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  return Promise.race([p.exited, late]).finally(() => clearTimeout(timer));
}
