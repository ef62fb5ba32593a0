/**
 * nginx as a benchmark peer: its own prefix, config and logs in a temp dir,
 * run in the foreground (`daemon off`) as a child of the bench so it is
 * stopped with it. Ready when its port accepts connections. The pair config
 * is the nginx equivalent of two sidecars: A takes plain HTTP and proxies
 * over mTLS (TLS 1.3, client certificate, server verified) on pooled
 * keep-alive connections to B, which requires and verifies a client
 * certificate and proxies to the app on pooled keep-alive connections.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { processCpuSeconds } from "./process.js";
import { childPids, rss, type Rss } from "./proc-status.js";

/** "nginx/1.22.1, built with OpenSSL 3.0.x" from `nginx -V` (which prints on stderr). */
export async function nginxVersion(bin: string): Promise<string> {
  try {
    const { stdout, stderr } = await promisify(execFile)(bin, ["-V"], { timeout: 10_000 });
    const text = `${stdout}\n${stderr}`;
    const v = /nginx version:\s*(\S+)/.exec(text)?.[1] ?? "nginx (version unknown)";
    const ssl = /built with (OpenSSL [^\s(]+)/.exec(text)?.[1];
    const running = /running with (OpenSSL [^\s(]+)/.exec(text)?.[1];
    return `${v}${ssl ? `, built with ${ssl}` : ""}${running ? `, running with ${running}` : ""}`;
  } catch (err) {
    return `nginx (nginx -V failed: ${(err as Error).message})`;
  }
}

export interface NginxTls {
  certFile: string;
  keyFile: string;
  /** CA bundle to verify the peer against. */
  caFile: string;
}

/** Directives every instance shares: foreground, one worker, everything under its prefix, no access log. */
export function nginxCommon(prefix: string, workers: number): string {
  // as root, workers would switch to "nobody" and could not enter the 0700 temp dir
  const user = process.getuid?.() === 0 ? "user root root;\n" : "";
  const tmp = (n: string) => join(prefix, "tmp", n);
  return `${user}daemon off;
master_process on;
worker_processes ${workers};
pid ${join(prefix, "nginx.pid")};
error_log ${join(prefix, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  client_body_temp_path ${tmp("body")};
  proxy_temp_path ${tmp("proxy")};
  fastcgi_temp_path ${tmp("fastcgi")};
  uwsgi_temp_path ${tmp("uwsgi")};
  scgi_temp_path ${tmp("scgi")};
  # the sidecars keep connections open indefinitely; nginx's default closes them after 1,000 requests
  keepalive_timeout 120s;
  keepalive_requests 1000000;
`;
}

/** An upstream block's pooled keep-alive connections to its servers. */
export const NGINX_UPSTREAM_POOL = "keepalive 64;\n    keepalive_requests 1000000;\n    keepalive_timeout 60s;";

/** nginx A: plain HTTP in, mTLS (TLS 1.3) out to B, B's certificate verified for the name in `serverName`. */
export function nginxOutboundConfig(o: { prefix: string; workers: number; listenPort: number; upstreamPort: number; tls: NginxTls; serverName: string }): string {
  return `${nginxCommon(o.prefix, o.workers)}
  upstream peer_b {
    server 127.0.0.1:${o.upstreamPort};
    ${NGINX_UPSTREAM_POOL}
  }
  server {
    listen 127.0.0.1:${o.listenPort};
    location / {
      proxy_pass https://peer_b;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate ${o.tls.certFile};
      proxy_ssl_certificate_key ${o.tls.keyFile};
      proxy_ssl_trusted_certificate ${o.tls.caFile};
      proxy_ssl_verify on;
      proxy_ssl_verify_depth 2;
      proxy_ssl_name ${o.serverName};
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
    }
  }
}
`;
}

/** nginx B: TLS 1.3 with a required, verified client certificate; plain HTTP to the app. Tags requests so the app can tell they came this way. */
export function nginxInboundConfig(o: { prefix: string; workers: number; listenPort: number; appPort: number; tls: NginxTls }): string {
  return `${nginxCommon(o.prefix, o.workers)}
  upstream app {
    server 127.0.0.1:${o.appPort};
    ${NGINX_UPSTREAM_POOL}
  }
  server {
    listen 127.0.0.1:${o.listenPort} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${o.tls.certFile};
    ssl_certificate_key ${o.tls.keyFile};
    ssl_client_certificate ${o.tls.caFile};
    ssl_verify_client on;
    ssl_verify_depth 2;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Bench-Via nginx-b;
      proxy_set_header X-Bench-Client-Verify $ssl_client_verify;
      proxy_set_header X-Bench-Tls $ssl_protocol;
    }
  }
}
`;
}

export interface NginxProcess {
  /** The master's pid. */
  pid: number;
  /** Worker pids (children of the master). */
  workers(): number[];
  /** Master + workers. */
  rss(): Rss;
  cpuSeconds(): number;
  stderrTail(): string;
  stop(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Writes the config under `prefix` and starts nginx in the foreground; resolves once `port` accepts connections. */
export async function startNginx(bin: string, prefix: string, config: string, port: number, timeoutMs = 15_000): Promise<NginxProcess> {
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(prefix, "tmp", d), { recursive: true });
  const conf = join(prefix, "nginx.conf");
  writeFileSync(conf, config);
  // -e: the compiled-in error log (/var/log/nginx) is opened before the config is read
  const child = spawn(bin, ["-p", prefix, "-c", conf, "-e", join(prefix, "error.log")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString("utf8")).slice(-4096);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${bin}`);
  let knownWorkers: number[] = [];
  const workers = (): number[] => {
    const now = childPids(pid);
    if (now.length > 0) knownWorkers = now;
    return now;
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = exited(child);
      child.kill("SIGTERM"); // fast shutdown: the master stops its workers
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(timer);
    }
    // a master killed hard leaves its workers behind: end those (ours, by pid) too
    for (const w of knownWorkers) {
      try {
        process.kill(w, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr.trim().slice(-800)}`);
    if (await portOpen(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms: ${stderr.trim().slice(-800)}`);
    }
    await sleep(25);
  }
  workers();
  const sum = (pids: number[], f: (p: number) => number) => pids.reduce((a, p) => a + f(p), 0);
  return {
    pid,
    workers,
    rss: () => {
      const all = [pid, ...workers()].map(rss);
      const sum = (f: (r: Rss) => number) => all.reduce((a, r) => a + f(r), 0);
      return { total: sum((r) => r.total), anon: sum((r) => r.anon), pss: sum((r) => r.pss) };
    },
    cpuSeconds: () => processCpuSeconds(pid) + sum(workers(), processCpuSeconds),
    stderrTail: () => stderr,
    stop,
  };
}
