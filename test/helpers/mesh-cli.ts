/**
 * Helpers for end-to-end tests of the `mesh` CLI: asynchronous runs with a
 * controlled environment, `mesh ca serve` as a child process, curl, CSRs.
 * Everything here is async so a test waiting on a child never blocks its
 * own event loop (and ava can run the other tests of the file meanwhile).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MESH_BIN, PASSPHRASE } from "./env.js";

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to the environment; a value of undefined removes the variable. */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  timeoutMs?: number;
}

/** Our environment without MESH_* (so the host's settings cannot leak into a test), plus overrides. */
function childEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MESH_")) env[k] = v;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: childEnv(opts.env) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", (e) => err.push(Buffer.from(String(e))));
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
    child.stdin.on("error", () => undefined); // a child that exits early must not crash the test
    child.stdin.end(opts.input ?? "");
  });
}

/** `node dist/cli/main.js …` with MESH_CA_PASSPHRASE set unless opts.env overrides it. */
export function mesh(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [MESH_BIN, ...args], { ...opts, env: { MESH_CA_PASSPHRASE: PASSPHRASE, ...opts.env } });
}

/** Throws (with stderr) unless the command succeeded: for set-up steps, not for the assertions under test. */
export function ok(r: RunResult, what = "command"): RunResult {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return r;
}

/** A successful run's stdout parsed as JSON. */
export function okJson<T>(r: RunResult, what = "command"): T {
  return JSON.parse(ok(r, what).stdout) as T;
}

/** Matches the frames of a JavaScript stack trace. */
export const STACK_FRAME = /^\s+at .+/m;

/** The PEM blocks of one label in a text, in order. */
export function pemBlocks(text: string, label = "CERTIFICATE"): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----\\n?`, "g");
  return (text.match(re) ?? []).map((b) => (b.endsWith("\n") ? b : b + "\n"));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with the exit of a child, or undefined if it is still running after ms. */
export function exitWithin(exited: Promise<ChildExit>, ms: number): Promise<ChildExit | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  return Promise.race([exited, late]).finally(() => clearTimeout(timer));
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServedCa {
  child: ChildProcess;
  port: number;
  url: string;
  exited: Promise<ChildExit>;
  /** What the server has logged so far. */
  stderr(): string;
}

/**
 * Starts `mesh ca serve --listen 127.0.0.1:0 --ready-file F` and waits
 * (bounded) until F names the port it listens on.
 */
export async function startCaServe(dir: string, readyFile: string, extra: string[] = [], timeoutMs = 20_000): Promise<ServedCa> {
  const child = spawn(process.execPath, [MESH_BIN, "ca", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--ready-file", readyFile, "--log-level", "warn", ...extra], {
    stdio: ["ignore", "ignore", "pipe"],
    env: childEnv({ MESH_CA_PASSPHRASE: PASSPHRASE }),
  });
  let log = "";
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<ChildExit>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  let gone: ChildExit | undefined;
  void exited.then((e) => (gone = e));
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && gone === undefined) {
    const ready = readReady(readyFile);
    if (ready && ready.pid === child.pid) return { child, port: ready.port, url: ready.url, exited, stderr: () => log };
    await sleep(50);
  }
  child.kill("SIGKILL");
  throw new Error(gone ? `mesh ca serve exited (${gone.code ?? gone.signal}) before it was ready: ${log}` : `mesh ca serve not ready after ${timeoutMs} ms: ${log}`);
}

function readReady(file: string): { url: string; port: number; pid: number } | undefined {
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as { url?: unknown; port?: unknown; pid?: unknown };
    if (typeof v.url === "string" && typeof v.port === "number" && typeof v.pid === "number") return { url: v.url, port: v.port, pid: v.pid };
  } catch {
    // not there yet
  }
  return undefined;
}

export interface CurlResult {
  /** HTTP status, 0 when no response came. */
  status: number;
  body: string;
  exit: number | null;
  stderr: string;
}

export interface CurlOptions {
  cacert: string;
  cert?: string;
  key?: string;
  /** A body to POST as application/json. */
  body?: string | Buffer;
}

/** curl against the CA over HTTPS, checking its certificate against cacert (host name localhost). */
export async function curl(url: string, o: CurlOptions): Promise<CurlResult> {
  const args = ["-sS", "--max-time", "15", "--cacert", o.cacert, "-w", "\n%{http_code}"];
  if (o.cert) args.push("--cert", o.cert);
  if (o.key) args.push("--key", o.key);
  if (o.body !== undefined) args.push("-H", "content-type: application/json", "--data-binary", "@-");
  args.push(url);
  const r = await run("curl", args, { input: o.body });
  const cut = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(cut + 1)) || 0, body: r.stdout.slice(0, Math.max(cut, 0)), exit: r.status, stderr: r.stderr };
}

/** A fresh P-256 key and a CSR for it, made by openssl; returns the file paths and the CSR's PEM. */
export async function makeCsr(dir: string, name: string): Promise<{ keyFile: string; csrFile: string; csr: string }> {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  ok(await run("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyFile, "-out", csrFile, "-subj", `/CN=${name}`]), "openssl req");
  return { keyFile, csrFile, csr: readFileSync(csrFile, "utf8") };
}

export interface IssuedJson {
  spiffe_id: string;
  serial: string;
  svid_chain: string;
  bundle: string;
}

/** Attests a node with a join token over /v1/attest; writes its certificate chain next to its key. */
export async function attestNode(baseUrl: string, cacert: string, token: string, dir: string, name: string): Promise<{ certFile: string; keyFile: string; svid: IssuedJson }> {
  const { keyFile, csr } = await makeCsr(dir, name);
  const r = await curl(`${baseUrl}/v1/attest`, { cacert, body: JSON.stringify({ token, csr }) });
  if (r.status !== 200) throw new Error(`attest failed (${r.status}): ${r.body}${r.stderr}`);
  const svid = JSON.parse(r.body) as IssuedJson;
  const certFile = join(dir, `${name}.pem`);
  writeFileSync(certFile, svid.svid_chain);
  return { certFile, keyFile, svid };
}
