/** Shared argument helpers of the CLI: durations, passphrases, printing data. */
import { readFileSync } from "node:fs";
import { parseDurationSeconds } from "../pki/duration.js";
import { UsageError } from "./run.js";

/** "90", "90s", "10m", "1h", "2d", "1h30m" → seconds. */
export function parseDuration(text: string, what = "duration"): number {
  const v = parseDurationSeconds(text);
  if (v === undefined) throw new UsageError(`${what} '${text}' is not a duration (e.g. 30s, 10m, 1h, 2d)`);
  return v;
}

/** The CA passphrase: --passphrase-file, else MESH_CA_PASSPHRASE. */
export function caPassphrase(file: string | undefined): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      throw new UsageError(`cannot read passphrase file ${file}`);
    }
    const p = text.replace(/\r?\n$/, "");
    if (p.length === 0) throw new UsageError(`passphrase file ${file} is empty`);
    return p;
  }
  const env = process.env.MESH_CA_PASSPHRASE;
  if (env === undefined || env === "") {
    throw new UsageError("the CA key is encrypted: set MESH_CA_PASSPHRASE or pass --passphrase-file FILE");
  }
  return env;
}

export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new UsageError(`cannot read ${what} ${path}`);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** A positive integer option. */
export function parsePositiveInt(text: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || Number(text) > max) throw new UsageError(`${what} must be a whole number from 1 to ${max}`);
  return Number(text);
}

/** "host:port", "[::1]:port" or ":port" → parts. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new UsageError(`listen address '${text}' must look like HOST:PORT`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}
