import test from "ava";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEndpointsFile, MAX_ENDPOINTS, parseEndpointsText, watchEndpointsFile } from "../../../proxy/cluster/endpoints-file.js";
import { ProxyError } from "../../../proxy/errors.js";

function parseErr(text: string): string {
  const err = (() => {
    try {
      parseEndpointsText(text, "eps.txt");
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof ProxyError) || err.code !== "invalid_config") throw new Error(`expected invalid_config, got ${String(err)}`);
  return err.message;
}

test("line format: comments, blank lines, IPv6, names; canonical output", (t) => {
  const text = "# backends\n127.0.0.1:15006\n\n  [::1]:15007   # local v6\nBackend.Local:8080\r\n";
  t.deepEqual(parseEndpointsText(text), ["127.0.0.1:15006", "[::1]:15007", "backend.local:8080"]);
});

test("JSON and YAML lists", (t) => {
  t.deepEqual(parseEndpointsText('["10.0.0.1:80", "[::1]:81"]'), ["10.0.0.1:80", "[::1]:81"]);
  t.deepEqual(parseEndpointsText("# yaml\n- 10.0.0.1:80\n- \"[::1]:81\"\n"), ["10.0.0.1:80", "[::1]:81"]);
});

test("errors say where and what", (t) => {
  t.regex(parseErr("127.0.0.1:80\nnot an address\n"), /^eps\.txt: line 2: expected one HOST:PORT per line/);
  t.regex(parseErr("127.0.0.1:80\n127.0.0.1\n"), /line 2: expected HOST:PORT/);
  t.regex(parseErr("127.0.0.1:70000\n"), /line 1: port 70000 out of range/);
  t.regex(parseErr("127.0.0.1:0\n"), /line 1: port 0 out of range/);
  t.regex(parseErr("999.0.0.1:80\n"), /line 1: "999\.0\.0\.1" is not a valid IPv4 address/);
  t.regex(parseErr("[zz::1]:80\n"), /line 1: expected "\[IPv6\]:PORT"/);
  t.regex(parseErr("a.com:1\nA.com:1\n"), /line 2: duplicate endpoint a\.com:1/);
  t.regex(parseErr("# nothing\n\n"), /lists no endpoints/);
  t.regex(parseErr(""), /lists no endpoints/);
  t.regex(parseErr('["10.0.0.1:80", 5]'), /\[1\]: expected a HOST:PORT string, got number/);
  t.regex(parseErr("[1, 2"), /not a valid JSON\/YAML list/);
  t.regex(parseErr("- a: 1\n"), /\[0\]: expected a HOST:PORT string, got object/);
  t.regex(parseErr(`${"a".repeat(300)}:80`), /line 1: longer than/);
  const many = Array.from({ length: MAX_ENDPOINTS + 1 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`).join("\n");
  t.regex(parseErr(many), /more than 10000 endpoints/);
  t.regex(parseErr("x".repeat(1024 * 1024 + 1)), /larger than/);
});

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "mesh-eps-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("loadEndpointsFile reads now, and a missing file is a clear error", (t) => {
  const dir = tempDir(t);
  const p = join(dir, "eps.txt");
  writeFileSync(p, "10.0.0.1:80\n");
  t.deepEqual(loadEndpointsFile(p), ["10.0.0.1:80"]);
  const err = t.throws(() => loadEndpointsFile(join(dir, "missing.txt")));
  t.true(err instanceof ProxyError);
  t.regex(err!.message, /missing\.txt: cannot read endpoints file \(ENOENT\)/);
});

/** Resolves with the next value the callback queue gets, or rejects after `ms`. */
function queue<T>() {
  const items: T[] = [];
  const waiters: ((v: T) => void)[] = [];
  return {
    push(v: T) {
      const w = waiters.shift();
      if (w) w(v);
      else items.push(v);
    },
    next(ms = 3000): Promise<T> {
      if (items.length) return Promise.resolve(items.shift()!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms);
        waiters.push((v) => {
          clearTimeout(timer);
          resolve(v);
        });
      });
    },
    get size() {
      return items.length;
    },
  };
}

test("hot reload: changes are reported, a bad file keeps the last good list, a fix is picked up", async (t) => {
  const dir = tempDir(t);
  const p = join(dir, "eps.txt");
  writeFileSync(p, "10.0.0.1:80\n");
  const changes = queue<string[]>();
  const errors = queue<ProxyError>();
  const w = watchEndpointsFile(p, (l) => changes.push(l), (e) => errors.push(e), { initial: ["10.0.0.1:80"], pollIntervalMs: 50 });
  t.teardown(() => w.close());

  writeFileSync(p, "10.0.0.1:80\n10.0.0.2:80\n");
  t.deepEqual(await changes.next(), ["10.0.0.1:80", "10.0.0.2:80"]);

  writeFileSync(p, "10.0.0.1:80\ngarbage here\n");
  const e = await errors.next();
  t.is(e.code, "invalid_config");
  t.regex(e.message, /line 2/);
  t.deepEqual(w.current(), ["10.0.0.1:80", "10.0.0.2:80"], "the last good list stays");

  // Atomic replace, as editors and config tools do.
  writeFileSync(join(dir, "eps.tmp"), '["10.0.0.3:80"]');
  renameSync(join(dir, "eps.tmp"), p);
  t.deepEqual(await changes.next(), ["10.0.0.3:80"]);
  t.deepEqual(w.current(), ["10.0.0.3:80"]);

  // The same list written differently is no change; give the watcher a few polls to see it.
  writeFileSync(p, "# same list, line format\n10.0.0.3:80\n");
  await new Promise((r) => setTimeout(r, 200));
  writeFileSync(p, "10.0.0.4:80\n");
  t.deepEqual(await changes.next(), ["10.0.0.4:80"], "the identical rewrite was not reported");

  rmSync(p);
  t.regex((await errors.next()).message, /ENOENT/);
  t.deepEqual(w.current(), ["10.0.0.4:80"]);
  t.is(changes.size, 0, "no spurious change events");
});

test("without an initial list the first good read is reported; close stops reporting", async (t) => {
  const dir = tempDir(t);
  const p = join(dir, "eps.txt");
  writeFileSync(p, "10.0.0.9:80\n");
  const changes = queue<string[]>();
  const w = watchEndpointsFile(p, (l) => changes.push(l), () => undefined, { pollIntervalMs: 50 });
  t.deepEqual(await changes.next(), ["10.0.0.9:80"]);
  w.close();
  writeFileSync(p, "10.0.0.10:80\n");
  await t.throwsAsync(changes.next(300), { message: /nothing within/ });
});

test("a line file that opens with an IPv6 endpoint is not taken for a JSON list", (t) => {
  t.deepEqual(parseEndpointsText("[::1]:15007\n127.0.0.1:1\n"), ["[::1]:15007", "127.0.0.1:1"]);
  t.deepEqual(parseEndpointsText('[ "[::1]:1" ]'), ["[::1]:1"]);
});

test("polling alone (no fs.watch) picks up changes", async (t) => {
  const dir = tempDir(t);
  const p = join(dir, "eps.txt");
  writeFileSync(p, "10.0.0.1:80\n");
  const changes = queue<string[]>();
  const w = watchEndpointsFile(p, (l) => changes.push(l), () => undefined, { initial: ["10.0.0.1:80"], pollIntervalMs: 30, fsWatch: false });
  t.teardown(() => w.close());
  writeFileSync(p, "10.0.0.1:80\n10.0.0.5:80\n");
  t.deepEqual(await changes.next(), ["10.0.0.1:80", "10.0.0.5:80"]);
});
