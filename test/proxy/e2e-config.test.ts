/**
 * `mesh config validate|export` and `mesh proxy` on bad configs, as a user
 * runs them: exit codes, one clear line naming the key path, nothing
 * listening, and export output that validates again.
 */
import test from "ava";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { removeDir } from "../helpers/env.js";
import { mesh, STACK_FRAME } from "../helpers/mesh-cli.js";

const dir = mkdtempSync(join(tmpdir(), "mesh-proxy-config-"));
test.after.always(() => removeDir(dir));

function goodConfig(): Record<string, unknown> {
  return {
    name: "good",
    sds: { socket: "./sds/good.sock", wait_timeout: "5s" },
    admin: { listen: "127.0.0.1:15999" },
    listeners: [
      {
        name: "inbound",
        kind: "inbound",
        listen: "127.0.0.2:0",
        filters: [
          { authz: { policies: [{ name: "allow-fe", rules: [{ from: [{ source: { principals: ["example.org/ns/e2e/sa/frontend"] } }] }] }] } },
          { rate_limit: { buckets: [{ name: "all", requests_per_second: 100 }] } },
        ],
        routes: [{ name: "app", match: { path: { prefix: "/" } }, cluster: "app", timeout: "2s" }],
      },
      {
        name: "outbound",
        kind: "outbound",
        listen: "127.0.0.3:0",
        routes: [{ name: "to-backend", match: { hosts: ["backend"] }, weighted_clusters: [{ cluster: "backend", weight: 90 }, { cluster: "app", weight: 10 }] }],
      },
    ],
    clusters: [
      { name: "app", endpoints: ["127.0.0.1:8080"], timeout: "10s" },
      { name: "backend", endpoints: ["10.0.0.7:15006"], spiffe_id: "spiffe://example.org/ns/e2e/sa/backend", lb: "least_request", outlier_detection: { consecutive_5xx: 3 } },
    ],
  };
}

let n = 0;
function writeConfig(obj: unknown): string {
  const file = join(dir, `config-${++n}.yaml`);
  writeFileSync(file, typeof obj === "string" ? obj : toYaml(obj));
  return file;
}

/** A config with one change made by `edit`. */
function broken(edit: (c: Record<string, unknown> & { listeners: Record<string, unknown>[]; clusters: Record<string, unknown>[] }) => void): string {
  const c = goodConfig() as Record<string, unknown> & { listeners: Record<string, unknown>[]; clusters: Record<string, unknown>[] };
  edit(c);
  return writeConfig(c);
}

function oneLine(t: import("ava").ExecutionContext, stderr: string): void {
  t.is(stderr.trim().split("\n").length, 1, stderr);
  t.notRegex(stderr, STACK_FRAME);
}

test("config validate: a good file exits 0", async (t) => {
  const r = await mesh(["config", "validate", writeConfig(goodConfig())]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /valid \(2 listener\(s\), 2 cluster\(s\)\)/);
  const j = await mesh(["config", "validate", "--json", writeConfig(goodConfig())]);
  t.is(j.status, 0, j.stderr);
  t.deepEqual((JSON.parse(j.stdout) as { clusters: string[] }).clusters, ["app", "backend"]);
});

const cases: { what: string; file: () => string; expect: RegExp }[] = [
  {
    what: "an unknown key",
    file: () => broken((c) => (c.listeners[0]!.max_conections = 10)),
    expect: /listeners\[0\]\.max_conections: unknown key/,
  },
  {
    what: "a bad duration",
    file: () => broken((c) => (c.clusters[0]!.timeout = "10 parsecs")),
    expect: /clusters\[0\]\.timeout: expected a duration/,
  },
  {
    what: "a route naming an unknown cluster",
    file: () => broken((c) => ((c.listeners[0]!.routes as Record<string, unknown>[])[0]!.cluster = "nowhere")),
    expect: /listeners\[0\]\.routes\[0\]\.cluster: unknown cluster "nowhere"/,
  },
  {
    what: "a non-loopback admin address",
    file: () => broken((c) => (c.admin = { listen: "0.0.0.0:15999" })),
    expect: /admin\.listen: must be a loopback address/,
  },
  {
    what: "a bad filter block",
    file: () => broken((c) => (c.listeners[0]!.filters = [{ rate_limit: { buckets: [{ name: "x", requests_per_second: -1 }] } }])),
    expect: /listeners\[0\]\.filters\[0\]\.rate_limit\.buckets\[0\]\.requests_per_second/,
  },
  {
    what: "YAML that does not parse",
    file: () => writeConfig("name: x\nlisteners: [\n"),
    expect: /YAML syntax error \(line \d+/,
  },
];

for (const c of cases) {
  test(`config validate: ${c.what} exits 1 naming the key path`, async (t) => {
    const r = await mesh(["config", "validate", c.file()]);
    t.is(r.status, 1, r.stdout);
    t.regex(r.stderr, c.expect);
    oneLine(t, r.stderr);
    t.is(r.stdout, "");
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function listening(port: number): Promise<boolean> {
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

test("mesh proxy with a broken config exits 1 with one line and never listens", async (t) => {
  const port = await freePort();
  const adminPort = await freePort();
  const file = broken((c) => {
    c.admin = { listen: `127.0.0.1:${adminPort}` };
    c.listeners[0]!.listen = `127.0.0.1:${port}`;
    c.clusters[0]!.timeout = "soon";
  });
  const ready = join(dir, "never-ready.json");
  const r = await mesh(["proxy", "--config", file, "--ready-file", ready, "--log-level", "info"], { timeoutMs: 15_000 });
  t.is(r.status, 1, r.stdout + r.stderr);
  t.regex(r.stderr, /clusters\[0\]\.timeout/);
  oneLine(t, r.stderr);
  t.notRegex(r.stdout, /listening|identity/);
  t.false(existsSync(ready));
  t.false(await listening(port));
  t.false(await listening(adminPort));
});

test("mesh proxy refuses a non-loopback admin address at config load", async (t) => {
  const file = broken((c) => (c.admin = { listen: "0.0.0.0:0" }));
  const r = await mesh(["proxy", "--config", file, "--log-level", "info"], { timeoutMs: 15_000 });
  t.is(r.status, 1);
  t.regex(r.stderr, /admin\.listen: must be a loopback address/);
  oneLine(t, r.stderr);
  t.notRegex(r.stdout, /listening/);
});

test("config export --format yaml round-trips (validates again, same document)", async (t) => {
  const original = writeConfig(goodConfig());
  const y = await mesh(["config", "export", "--format", "yaml", original]);
  t.is(y.status, 0, y.stderr);
  t.deepEqual(parseYaml(y.stdout), goodConfig());
  const again = writeConfig(y.stdout);
  t.is((await mesh(["config", "validate", again])).status, 0);
  const j1 = await mesh(["config", "export", "--format", "json", original]);
  const j2 = await mesh(["config", "export", "--format", "json", again]);
  t.is(j1.status, 0);
  t.deepEqual(JSON.parse(j1.stdout), JSON.parse(j2.stdout));
  t.deepEqual(JSON.parse(j1.stdout), goodConfig());
  // export refuses a broken file as validate does
  const bad = await mesh(["config", "export", "--format", "yaml", broken((c) => (c.clusters[0]!.lb = "random"))]);
  t.is(bad.status, 1);
  t.regex(bad.stderr, /clusters\[0\]\.lb/);
  t.is(bad.stdout, "");
});

test("port 0 may be used by the admin endpoint and several listeners on the same host", async (t) => {
  // every listener on 127.0.0.1:0 gets its own ephemeral port: not a conflict
  const file = broken((c) => {
    c.admin = { listen: "127.0.0.1:0" };
    c.listeners[0]!.listen = "127.0.0.1:0";
    c.listeners[1]!.listen = "127.0.0.1:0";
  });
  const r = await mesh(["config", "validate", file]);
  t.is(r.status, 0, r.stderr);
});
