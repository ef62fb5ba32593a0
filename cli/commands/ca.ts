/** `mesh ca …`: admin work on the CA's own data directory, and `mesh ca serve`. */
import type { Command } from "commander";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { trustBundle } from "../../pki/bundle.js";
import { chainPem, CertificateAuthority } from "../../pki/ca.js";
import { generateKeyPair, privateKeyToPem, writePublicFile, writeSecretFile } from "../../pki/keys.js";
import { exportPkcs12 } from "../../pki/p12.js";
import { currentCrlsPem } from "../../pki/revocation.js";
import { revoke } from "../../pki/revocation.js";
import { activateCa, prepareCa, retireCa } from "../../pki/rotation.js";
import { createEntry, createJoinToken, deleteEntry } from "../../pki/node-api.js";
import type { UpstreamPem } from "../../pki/ca-material.js";
import { caPassphrase, parseDuration, printJson, readTextFile } from "../args.js";
import { openCaAudit } from "../audit-sink.js";
import { UsageError } from "../run.js";
import { registerCaServe } from "./ca-serve.js";
import { randomBytes } from "node:crypto";

interface DirOpts {
  dir: string;
  passphraseFile?: string;
  auditDb?: string;
}

/** Opens the CA of --dir with its audit log; the caller closes both through the returned function. */
export function withCa<T>(o: DirOpts, fn: (ca: CertificateAuthority) => T): T {
  const audit = openCaAudit(o.dir, o.auditDb);
  try {
    const ca = CertificateAuthority.open(o.dir, { passphrase: caPassphrase(o.passphraseFile), audit });
    try {
      return fn(ca);
    } finally {
      ca.close();
    }
  } finally {
    audit.close();
  }
}

const dirOptions = (c: Command): Command =>
  c
    .requiredOption("--dir <dir>", "the CA's data directory")
    .option("--passphrase-file <file>", "file holding the CA key passphrase (else MESH_CA_PASSPHRASE)")
    .option("--audit-db <file>", "audit log database (default <dir>/audit.db)");

function upstreamFrom(o: { rootCert?: string; rootKey?: string; intermediateCert?: string; intermediateKey?: string }): UpstreamPem | undefined {
  if (!o.rootCert) {
    if (o.rootKey || o.intermediateCert || o.intermediateKey) throw new UsageError("--root-key/--intermediate-* need --root-cert");
    return undefined;
  }
  if (!o.rootKey && !o.intermediateCert) throw new UsageError("--root-cert needs --root-key, or --intermediate-cert with --intermediate-key");
  return {
    rootCert: readTextFile(o.rootCert, "root certificate"),
    rootKey: o.rootKey ? readTextFile(o.rootKey, "root key") : undefined,
    rootKeyPassphrase: process.env.MESH_ROOT_KEY_PASSPHRASE,
    intermediateCert: o.intermediateCert ? readTextFile(o.intermediateCert, "intermediate certificate") : undefined,
    intermediateKey: o.intermediateKey ? readTextFile(o.intermediateKey, "intermediate key") : undefined,
    intermediateKeyPassphrase: process.env.MESH_INTERMEDIATE_KEY_PASSPHRASE,
  };
}

export function registerCa(program: Command): void {
  const ca = program.command("ca").description("certificate authority: init, issue, revoke, rotate, serve");

  dirOptions(ca.command("init").description("create a CA (self-signed root, or an intermediate under your root)"))
    .requiredOption("--trust-domain <td>", "trust domain, e.g. example.org")
    .option("--key-type <type>", "ec-p256 | ec-p384 | rsa-2048 | rsa-3072", "ec-p256")
    .option("--ca-ttl <duration>", "lifetime of a self-signed root or minted intermediate", "365d")
    .option("--leaf-ttl <duration>", "default leaf TTL", "1h")
    .option("--max-leaf-ttl <duration>", "longest leaf TTL allowed", "24h")
    .option("--node-ttl <duration>", "TTL of node (agent) SVIDs", "1h")
    .option("--root-cert <file>", "bring your own root: its certificate (PEM)")
    .option("--root-key <file>", "…and its key, to mint our intermediate under it (never stored)")
    .option("--intermediate-cert <file>", "…or an intermediate already signed by that root (PEM, may hold the chain above it)")
    .option("--intermediate-key <file>", "…and the intermediate's key")
    .option("--json", "print the result as JSON")
    .action((o) => {
      const passphrase = caPassphrase(o.passphraseFile); // before anything touches the disk
      const audit = openCaAudit(o.dir, o.auditDb, true);
      try {
        const created = CertificateAuthority.init(o.dir, {
          trustDomain: o.trustDomain,
          keyType: o.keyType,
          passphrase,
          audit,
          upstream: upstreamFrom(o),
          settings: {
            caTtlSeconds: parseDuration(o.caTtl, "--ca-ttl"),
            leafTtlSeconds: parseDuration(o.leafTtl, "--leaf-ttl"),
            maxLeafTtlSeconds: parseDuration(o.maxLeafTtl, "--max-leaf-ttl"),
            nodeTtlSeconds: parseDuration(o.nodeTtl, "--node-ttl"),
          },
        });
        const active = created.activeCa();
        const out = { dir: o.dir, trust_domain: created.trustDomain, serial: active.serial, key_type: active.keyType, not_after: active.notAfter.toISOString() };
        created.close();
        if (o.json) printJson(out);
        else process.stdout.write(`CA for ${out.trust_domain} created in ${out.dir} (serial ${out.serial}, ${out.key_type}, valid until ${out.not_after})\n`);
      } finally {
        audit.close();
      }
    });

  dirOptions(ca.command("issue").description("issue an X509-SVID to files (for workloads outside the mesh, tests, JVM services)"))
    .requiredOption("--spiffe-id <id>", "SPIFFE ID of the identity")
    .option("--ttl <duration>", "lifetime (clamped to the CA's maximum)")
    .option("--dns <name...>", "extra DNS SANs")
    .requiredOption("--out-dir <dir>", "where svid.pem, svid.key and bundle.pem go")
    .option("--key-type <type>", "key of the identity", "ec-p256")
    .option("--p12", "also write svid.p12 (password from MESH_P12_PASSPHRASE, else a random one in svid.p12.pass)")
    .option("--json", "print the result as JSON")
    .action((o) =>
      withCa(o, (c) => {
        const keys = generateKeyPair(o.keyType);
        const svid = c.issue({ spiffeId: o.spiffeId, publicKey: keys.publicKey, ttlSeconds: o.ttl ? parseDuration(o.ttl, "--ttl") : undefined, dnsNames: o.dns, kind: "manual" });
        mkdirSync(o.outDir, { recursive: true, mode: 0o700 });
        writePublicFile(join(o.outDir, "svid.pem"), chainPem(svid.chainDer));
        writeSecretFile(join(o.outDir, "svid.key"), privateKeyToPem(keys.privateKey));
        const bundle = trustBundle(c);
        writePublicFile(join(o.outDir, "bundle.pem"), bundle.pem);
        const files = ["svid.pem", "svid.key", "bundle.pem"];
        if (o.p12) {
          let pass = process.env.MESH_P12_PASSPHRASE;
          if (!pass) {
            pass = randomBytes(18).toString("base64url");
            writeSecretFile(join(o.outDir, "svid.p12.pass"), pass + "\n");
            files.push("svid.p12.pass");
          }
          writeSecretFile(join(o.outDir, "svid.p12"), exportPkcs12({ privateKey: keys.privateKey, chainDer: svid.chainDer, caCertsDer: bundle.anchorsDer, passphrase: pass, friendlyName: svid.spiffeId }));
          files.push("svid.p12");
        }
        const out = { spiffe_id: svid.spiffeId, serial: svid.serial, not_after: svid.notAfter.toISOString(), files: files.map((f) => join(o.outDir, f)) };
        if (o.json) printJson(out);
        else process.stdout.write(`issued ${out.spiffe_id} serial ${out.serial}, valid until ${out.not_after}\n${out.files.join("\n")}\n`);
      }),
    );

  dirOptions(ca.command("revoke").description("revoke by serial or every unexpired certificate of a SPIFFE ID"))
    .option("--serial <hex>", "serial number")
    .option("--spiffe-id <id>", "SPIFFE ID")
    .option("--reason <reason>", "keyCompromise, superseded, cessationOfOperation, …", "unspecified")
    .option("--json", "print the result as JSON")
    .action((o) => {
      if ((o.serial === undefined) === (o.spiffeId === undefined)) throw new UsageError("give exactly one of --serial or --spiffe-id");
      withCa(o, (c) => {
        const r = revoke(c, { serial: o.serial, spiffeId: o.spiffeId }, o.reason);
        if (o.json) printJson(r);
        else {
          for (const x of r.revoked) process.stdout.write(`revoked ${x.serial} (${x.spiffeId})\n`);
          for (const s of r.alreadyRevoked) process.stdout.write(`already revoked ${s}\n`);
        }
      });
    });

  dirOptions(ca.command("crl").description("print the current CRLs (PEM)")).action((o) => withCa(o, (c) => void process.stdout.write(currentCrlsPem(c))));

  dirOptions(ca.command("bundle").description("print the trust bundle"))
    .option("--format <format>", "pem | spiffe", "pem")
    .action((o) =>
      withCa(o, (c) => {
        const b = trustBundle(c);
        if (o.format === "pem") process.stdout.write(b.pem);
        else if (o.format === "spiffe") printJson(b.spiffe);
        else throw new UsageError("--format must be pem or spiffe");
      }),
    );

  const rotate = ca.command("rotate").description("rotate the CA: prepare → activate → retire");
  dirOptions(rotate.command("prepare").description("make the next CA and put it in the bundle (it does not sign yet)"))
    .option("--key-type <type>", "key type of the new CA (default: as configured)")
    .option("--root-cert <file>", "upstream root (for a CA under your root)")
    .option("--root-key <file>", "upstream root key")
    .option("--intermediate-cert <file>", "or a new intermediate signed by the root")
    .option("--intermediate-key <file>", "and its key")
    .option("--json", "print the result as JSON")
    .action((o) => withCa(o, (c) => report(o.json, prepareCa(c, { keyType: o.keyType, upstream: upstreamFrom(o) }))));
  dirOptions(rotate.command("activate").description("the prepared CA signs from now on; the old one stays trusted"))
    .option("--json", "print the result as JSON")
    .action((o) => withCa(o, (c) => report(o.json, activateCa(c))));
  dirOptions(rotate.command("retire").description("retire the oldest previous CA; it leaves the bundle when its last leaf expires"))
    .option("--force", "drop it from the bundle now, even if leaves it signed are still valid")
    .option("--json", "print the result as JSON")
    .action((o) => withCa(o, (c) => report(o.json, retireCa(c, { force: !!o.force }))));

  dirOptions(ca.command("list").description("inventory: CAs and issued certificates with their expiry"))
    .option("--all", "include expired certificates")
    .option("--json", "print as JSON")
    .action((o) =>
      withCa(o, (c) => {
        const now = c.now();
        const inBundle = new Set(c.casInBundle(now).map((x) => x.id));
        const cas = c.store.listCas().map((x) => ({ id: x.id, state: x.state, in_bundle: inBundle.has(x.id), serial: x.serial, key_type: x.keyType, subject: x.subject, not_after: x.notAfter.toISOString() }));
        const certs = c.store.listCertificates(o.all ? {} : { unexpiredAt: now }).map((x) => ({
          serial: x.serial,
          spiffe_id: x.spiffeId,
          kind: x.kind,
          node: x.node ?? null,
          ca_id: x.caId,
          not_after: x.notAfter.toISOString(),
          revoked: x.revokedAt ? { at: x.revokedAt.toISOString(), reason: x.revocationReason } : null,
        }));
        const entries = c.store.entriesOf().map((e) => ({ id: e.id, spiffe_id: e.spiffeId, node: e.node, workload: e.workload }));
        if (o.json) return printJson({ trust_domain: c.trustDomain, cas, certificates: certs, entries });
        const w = (s: string) => process.stdout.write(s + "\n");
        w(`trust domain ${c.trustDomain}`);
        w("CAs:");
        for (const x of cas) w(`  #${x.id} ${x.state.padEnd(8)} ${x.in_bundle ? "in-bundle " : "          "}${x.key_type.padEnd(8)} ${x.serial}  until ${x.not_after}`);
        w(`certificates (${certs.length}${o.all ? "" : " unexpired"}):`);
        for (const x of certs) w(`  ${x.serial}  ${x.kind.padEnd(8)} ${x.spiffe_id}  until ${x.not_after}${x.revoked ? `  REVOKED (${x.revoked.reason})` : ""}`);
        w(`entries (${entries.length}):`);
        for (const e of entries) w(`  ${e.id}  node=${e.node} workload=${e.workload} ${e.spiffe_id}`);
      }),
    );

  const token = ca.command("token").description("join tokens for node attestation");
  dirOptions(token.command("create").description("create a single-use join token bound to a node (printed once)"))
    .requiredOption("--node <name>", "node name")
    .option("--ttl <duration>", "how long the token is valid", "10m")
    .option("--json", "print as JSON")
    .action((o) =>
      withCa(o, (c) => {
        const t = createJoinToken(c, o.node, parseDuration(o.ttl, "--ttl"));
        if (o.json) printJson({ token: t.token, node: t.node, expires_at: t.expiresAt.toISOString() });
        else process.stdout.write(t.token + "\n");
      }),
    );

  const entry = ca.command("entry").description("registration entries: which node may get which SPIFFE ID for which workload");
  dirOptions(entry.command("create").description("register a workload identity on a node"))
    .requiredOption("--spiffe-id <id>", "spiffe://<td>/ns/<ns>/sa/<sa>")
    .requiredOption("--node <name>", "node whose agent may request it")
    .requiredOption("--workload <name>", "workload name (its SDS socket is <sds-dir>/<workload>.sock)")
    .option("--ttl <duration>", "TTL of its SVIDs")
    .option("--dns <name...>", "DNS SANs to add")
    .option("--json", "print as JSON")
    .action((o) =>
      withCa(o, (c) => {
        const e = createEntry(c, { spiffeId: o.spiffeId, node: o.node, workload: o.workload, ttlSeconds: o.ttl ? parseDuration(o.ttl, "--ttl") : undefined, dnsNames: o.dns });
        if (o.json) printJson({ id: e.id, spiffe_id: e.spiffeId, node: e.node, workload: e.workload });
        else process.stdout.write(`entry ${e.id}: ${e.spiffeId} on node ${e.node} for workload ${e.workload}\n`);
      }),
    );
  dirOptions(entry.command("list").description("list registration entries"))
    .option("--node <name>", "only this node")
    .option("--json", "print as JSON")
    .action((o) =>
      withCa(o, (c) => {
        const list = c.store.entriesOf(o.node).map((e) => ({ id: e.id, spiffe_id: e.spiffeId, node: e.node, workload: e.workload, ttl_seconds: e.ttlSeconds ?? null }));
        if (o.json) printJson(list);
        else for (const e of list) process.stdout.write(`${e.id}  node=${e.node} workload=${e.workload} ${e.spiffe_id}\n`);
      }),
    );
  dirOptions(entry.command("delete").description("delete a registration entry"))
    .requiredOption("--id <id>", "entry id")
    .action((o) => withCa(o, (c) => {
      deleteEntry(c, o.id);
      process.stdout.write(`deleted ${o.id}\n`);
    }));

  registerCaServe(ca, dirOptions);
}

function report(json: boolean | undefined, r: { step: string; ca: { id: number; serial: string; state: string; notAfter: string }; leavesBundleAt?: string }): void {
  if (json) return printJson(r);
  process.stdout.write(`${r.step}: CA #${r.ca.id} serial ${r.ca.serial} is now ${r.ca.state} (valid until ${r.ca.notAfter})${r.leavesBundleAt ? `; leaves the bundle at ${r.leavesBundleAt}` : ""}\n`);
}
