/**
 * A real rsyslogd (Debian's, installed by scripts/install-test-tools.sh) on
 * loopback for one test: foreground (-n), its own config, pid file and work
 * directory in a temp dir, imtcp on a port it picks itself (port 0 +
 * listenPortFileName, so no race for a free port), optionally TLS with the
 * OpenSSL driver. Every message it receives is written to a file with a
 * template that keeps the raw message, one per line.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RsyslogTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Require and verify a client certificate (x509/certvalid); default anon (client not checked). */
  clientAuth?: boolean;
}

export interface Rsyslog {
  port: number;
  dir: string;
  /** The raw messages received so far, in order. */
  messages(): string[];
  /** Waits until at least n messages are in the file (and, with settleMs, no more arrive for that long). */
  waitForMessages(n: number, ms: number): Promise<string[]>;
  /** SIGTERM, then SIGKILL after 3 s; removes the temp dir. */
  stop(): Promise<void>;
}

/** The rsyslogd binary; throws when it is not installed (the project installs it: the test must fail, not skip). */
export function rsyslogdPath(): string {
  for (const p of ["/usr/sbin/rsyslogd", "/sbin/rsyslogd", "/usr/bin/rsyslogd"]) if (existsSync(p)) return p;
  try {
    return execFileSync("sh", ["-c", "command -v rsyslogd"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("rsyslogd is not installed: run `bash scripts/install-test-tools.sh` (npm test does it)");
  }
}

const quote = (s: string): string => JSON.stringify(s); // rsyslog's string syntax accepts JSON-style quoting of plain paths

function config(dir: string, tls: RsyslogTls | undefined): string {
  const lines = [
    // Events can be long; the default 8k would cut them. Control characters are kept as sent.
    `global(workDirectory=${quote(dir)} maxMessageSize="256k" parser.escapeControlCharactersOnReceive="off"` +
      (tls
        ? ` defaultNetstreamDriverCAFile=${quote(tls.caFile)} defaultNetstreamDriverCertFile=${quote(tls.certFile)} defaultNetstreamDriverKeyFile=${quote(tls.keyFile)})`
        : ")"),
    tls
      ? `module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode=${quote(tls.clientAuth ? "x509/certvalid" : "anon")})`
      : `module(load="imtcp")`,
    `template(name="raw" type="string" string="%rawmsg%\\n")`,
    `input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName=${quote(join(dir, "port"))} ruleset="received")`,
    `ruleset(name="received") { action(type="omfile" file=${quote(join(dir, "received.log"))} template="raw") }`,
  ];
  return lines.join("\n") + "\n";
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts rsyslogd and waits until it listens (at most 10 s). */
export async function startRsyslog(o: { tls?: RsyslogTls } = {}): Promise<Rsyslog> {
  const bin = rsyslogdPath();
  const dir = mkdtempSync(join(tmpdir(), "rsyslog-test-"));
  const conf = join(dir, "rsyslog.conf");
  writeFileSync(conf, config(dir, o.tls));
  const out = join(dir, "received.log");
  const child: ChildProcess = spawn(bin, ["-n", "-f", conf, "-i", join(dir, "rsyslogd.pid")], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on("exit", () => {
      exited = true;
      resolve();
    }),
  );
  child.on("error", (e) => (stderr += String(e)));

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const portFile = join(dir, "port");
  const deadline = Date.now() + 10_000;
  let port = 0;
  while (port === 0) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`rsyslogd did not start listening: ${stderr.trim() || "(no output)"}`);
    }
    if (existsSync(portFile)) port = Number(readFileSync(portFile, "utf8").trim()) || 0;
    if (port === 0) await sleep(10);
  }

  const messages = (): string[] => {
    if (!existsSync(out)) return [];
    const text = readFileSync(out, "utf8");
    return text === "" ? [] : text.replace(/\n$/, "").split("\n");
  };
  return {
    port,
    dir,
    messages,
    async waitForMessages(n: number, ms: number): Promise<string[]> {
      const end = Date.now() + ms;
      let got = messages();
      while (got.length < n && Date.now() < end) {
        await sleep(20);
        got = messages();
      }
      return got;
    },
    stop,
  };
}

export interface TestPki {
  caFile: string;
  ca: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate, made with openssl in dir (asynchronously: the tests' servers keep running meanwhile). */
export async function makeTestPki(dir: string): Promise<TestPki> {
  const ossl = (args: string[]): Promise<void> =>
    new Promise((resolve, reject) =>
      execFile("openssl", args, { cwd: dir }, (err, _stdout, stderr) => (err ? reject(new Error(`openssl ${args[0]}: ${stderr || err.message}`)) : resolve())),
    );
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await ossl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ship test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  const leaf = async (name: string, cn: string, ext: string, serial: string): Promise<void> => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    await ossl(["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    await ossl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", serial, "-days", "2", "-out", `${name}.pem`, "-extfile", `${name}.ext`]);
  };
  await Promise.all([
    leaf("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n", "1001"),
    leaf("client", "ship-client", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n", "1002"),
  ]);
  return {
    caFile: join(dir, "ca.pem"),
    ca: readFileSync(join(dir, "ca.pem"), "utf8"),
    serverCertFile: join(dir, "server.pem"),
    serverKeyFile: join(dir, "server.key"),
    clientCertFile: join(dir, "client.pem"),
    clientKeyFile: join(dir, "client.key"),
  };
}
