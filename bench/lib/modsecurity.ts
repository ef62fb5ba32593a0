/**
 * nginx + ModSecurity v3 + OWASP CRS from Debian's packages as a benchmark
 * peer: nginx (bench/lib/debian-tools.ts), the connector module
 * (libnginx-mod-http-modsecurity) and the rules (modsecurity-crs), installed
 * with apt-get when missing and we are root, else the caller is told what to
 * install. The config is self-contained in a temp prefix: nginx.conf loads
 * the module, and its `modsecurity_rules_file` includes a modsecurity.conf
 * written here (engine On, request bodies inspected, no audit log) and the
 * CRS setup + rules at a given paranoia level, blocking by anomaly score.
 * Nothing under /etc is read but the CRS setup file and nothing is written there.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { aptInstall, canApt, ensureDebianTool } from "./debian-tools.js";
import { NGINX_UPSTREAM_POOL, nginxCommon, startNginx, type NginxProcess } from "./nginx.js";

const run = promisify(execFile);

export const MODSEC_PACKAGES = ["libnginx-mod-http-modsecurity", "modsecurity-crs"] as const;

export interface ModSecInstall {
  nginx: string;
  /** ngx_http_modsecurity_module.so */
  module: string;
  /** Folder of the CRS rule files (REQUEST-*.conf and their .data files). */
  crsRules: string;
  /** crs-setup.conf */
  crsSetup: string;
  /** Character map for t:urlDecodeUni, when the connector package ships one. */
  unicodeMap?: string;
  /** "libmodsecurity3 3.0.9-1+deb12u2, modsecurity-crs 3.3.4-1+deb12u3, …" (dpkg), for the section. */
  versions: string;
}

const MODULE_PATHS = ["/usr/lib/nginx/modules/ngx_http_modsecurity_module.so", "/usr/share/nginx/modules/ngx_http_modsecurity_module.so"];
const CRS_RULE_DIRS = ["/usr/share/modsecurity-crs/rules"];
const CRS_SETUPS = ["/etc/modsecurity/crs/crs-setup.conf", "/etc/modsecurity/crs-setup.conf"];
const UNICODE_MAPS = ["/etc/nginx/unicode.mapping", "/etc/modsecurity/unicode.mapping"];

const first = (paths: readonly string[]): string | undefined => paths.find((p) => existsSync(p));

function locate(nginx: string, versions: string): ModSecInstall | string {
  const module = first(MODULE_PATHS);
  const crsRules = first(CRS_RULE_DIRS.filter((d) => existsSync(join(d, "REQUEST-949-BLOCKING-EVALUATION.conf"))));
  const crsSetup = first(CRS_SETUPS);
  const missing = [!module && "the ModSecurity module for nginx (libnginx-mod-http-modsecurity)", !crsRules && "the CRS rules (modsecurity-crs)", !crsSetup && "crs-setup.conf (modsecurity-crs)"].filter(
    (x): x is string => typeof x === "string",
  );
  if (missing.length > 0) return `missing ${missing.join(", ")}`;
  const unicodeMap = first(UNICODE_MAPS);
  return { nginx, module: module!, crsRules: crsRules!, crsSetup: crsSetup!, ...(unicodeMap ? { unicodeMap } : {}), versions };
}

async function packageVersions(): Promise<string> {
  try {
    const { stdout } = await run("dpkg-query", ["-W", "-f", "${Package} ${Version}\\n", "nginx", "libmodsecurity3", ...MODSEC_PACKAGES], { timeout: 10_000 });
    return stdout.trim().split("\n").join(", ");
  } catch {
    return "package versions unknown (no dpkg-query)";
  }
}

/** nginx with the ModSecurity module and the CRS, installing the Debian packages when missing and root; else why not. */
export async function ensureModSecurity(log: (m: string) => void): Promise<{ install?: ModSecInstall; why?: string }> {
  const nginx = await ensureDebianTool("nginx", "nginx", log);
  if (!nginx.path) return { why: nginx.why ?? "nginx is not installed" };
  let found = locate(nginx.path, await packageVersions());
  if (typeof found !== "string") return { install: found };
  if (!canApt()) return { why: `${found} (Debian/Ubuntu, as root: apt-get install ${MODSEC_PACKAGES.join(" ")})` };
  log(`${found}: apt-get install -y ${MODSEC_PACKAGES.join(" ")}`);
  const failure = await aptInstall(MODSEC_PACKAGES, log);
  found = locate(nginx.path, await packageVersions());
  if (typeof found !== "string") return { install: found };
  return { why: `${found} after apt-get install ${MODSEC_PACKAGES.join(" ")}${failure ? `: ${failure}` : ""}` };
}

/** The CRS version crs-setup.conf declares (tx.crs_setup_version=334 → "3.3.4"). */
export function crsVersion(install: ModSecInstall): string {
  try {
    const m = /crs_setup_version=(\d)(\d)(\d)/.exec(readFileSync(install.crsSetup, "utf8"));
    return m ? `${m[1]}.${m[2]}.${m[3]}` : "unknown";
  } catch {
    return "unknown";
  }
}

export interface CrsOptions {
  paranoia: number;
  /** Inbound anomaly score at which a request is refused (CRS default 5). */
  threshold: number;
}

/**
 * Writes modsecurity.conf and main.conf under `dir`; returns main.conf's
 * path for `modsecurity_rules_file`. The engine settings are the usual
 * recommended ones, except that responses are not inspected and there is no
 * audit log: the proxy's WAF does neither, and both would only slow
 * ModSecurity down.
 */
export function writeModsecRules(dir: string, install: ModSecInstall, o: CrsOptions): string {
  const tmp = join(dir, "tmp");
  const data = join(dir, "data");
  mkdirSync(tmp, { recursive: true });
  mkdirSync(data, { recursive: true });
  const engine = `# written by bench/lib/modsecurity.ts
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "@rx ^(?:application(?:/soap\\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecArgumentsLimit 1000
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body'"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,t:none,log,deny,status:400,msg:'Multipart request body failed strict validation'"
SecPcreMatchLimit 1000
SecPcreMatchLimitRecursion 1000
SecResponseBodyAccess Off
SecAuditEngine Off
SecTmpDir ${tmp}
SecDataDir ${data}
SecArgumentSeparator &
SecCookieFormat 0
SecStatusEngine Off
${install.unicodeMap ? `SecUnicodeMapFile ${install.unicodeMap} 20127\n` : ""}`;
  const main = `# written by bench/lib/modsecurity.ts: engine, CRS setup, paranoia ${o.paranoia}, blocking at inbound anomaly score ${o.threshold}
Include ${join(dir, "modsecurity.conf")}
Include ${install.crsSetup}
SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level=${o.paranoia}"
SecAction "id:900110,phase:1,nolog,pass,t:none,setvar:tx.inbound_anomaly_score_threshold=${o.threshold},setvar:tx.outbound_anomaly_score_threshold=4"
Include ${install.crsRules}/*.conf
`;
  writeFileSync(join(dir, "modsecurity.conf"), engine);
  const mainFile = join(dir, "main.conf");
  writeFileSync(mainFile, main);
  return mainFile;
}

export interface ModsecNginxOptions {
  prefix: string;
  workers: number;
  listenPort: number;
  appPort: number;
  module: string;
  rulesFile: string;
}

/** nginx.conf: the module loaded, ModSecurity on for the one server, which proxies to the app on pooled keep-alive connections. */
export function modsecNginxConfig(o: ModsecNginxOptions): string {
  return `load_module ${o.module};
${nginxCommon(o.prefix, o.workers)}  client_max_body_size 16m;
  upstream app {
    server 127.0.0.1:${o.appPort};
    ${NGINX_UPSTREAM_POOL}
  }
  server {
    listen 127.0.0.1:${o.listenPort};
    modsecurity on;
    modsecurity_rules_file ${o.rulesFile};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** Writes the rules and nginx.conf under `prefix` and starts nginx; resolves once it listens. */
export async function startModsecNginx(install: ModSecInstall, o: { prefix: string; workers: number; listenPort: number; appPort: number } & CrsOptions): Promise<NginxProcess> {
  const rulesFile = writeModsecRules(join(o.prefix, "modsec"), install, o);
  const config = modsecNginxConfig({ prefix: o.prefix, workers: o.workers, listenPort: o.listenPort, appPort: o.appPort, module: install.module, rulesFile });
  // loading and compiling the CRS takes a few seconds on a slow machine
  return startNginx(install.nginx, o.prefix, config, o.listenPort, 60_000);
}

/** Lines ModSecurity wrote to the nginx error log (one per rule match with `log`), for checks. */
export function modsecLogLines(prefix: string): string[] {
  try {
    return readFileSync(join(prefix, "error.log"), "utf8")
      .split("\n")
      .filter((l) => l.includes("ModSecurity"));
  } catch {
    return [];
  }
}
