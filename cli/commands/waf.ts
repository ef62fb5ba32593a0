/**
 * `mesh waf check`: runs one raw HTTP request (stdin) through the WAF and
 * prints the verdict, scores and matches as JSON, so rule authors can test
 * a rule or an exclusion without starting a proxy. `mesh waf rules` lists
 * the rules a directory holds.
 */
import type { Command } from "commander";
import { WafEngine } from "../../proxy/waf/engine.js";
import { loadRules, ruleFileOf } from "../../proxy/waf/rule-file.js";
import { parseRawHttp } from "../../proxy/waf/raw-http.js";
import { bundledRulesDir, settingsFrom, wafConfigSchema } from "../../proxy/waf/settings.js";
import { UsageError } from "../run.js";

/** A raw request larger than this is refused (the WAF inspects at most its limits anyway). */
const MAX_STDIN_BYTES = 9 * 1024 * 1024;
const STDIN_TIMEOUT_MS = 30_000;

function readStdin(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => reject(new UsageError(`no request on stdin within ${STDIN_TIMEOUT_MS / 1000} s`)), STDIN_TIMEOUT_MS);
    timer.unref();
    process.stdin.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_STDIN_BYTES) {
        clearTimeout(timer);
        reject(new UsageError(`request on stdin larger than ${MAX_STDIN_BYTES} bytes`));
        process.stdin.destroy();
        return;
      }
      chunks.push(c);
    });
    process.stdin.on("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    process.stdin.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function level(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new UsageError(`${flag} must be 1, 2, 3 or 4, got ${v}`);
  return n;
}

export function registerWaf(program: Command): void {
  const waf = program.command("waf").description("test WAF rules");
  waf
    .command("check")
    .description("read one raw HTTP request on stdin, print the WAF verdict, score and matches as JSON")
    .option("--rules <path>", "rules directory or file (default: the bundled waf-rules/)")
    .option("--paranoia <n>", "blocking paranoia level 1-4", "1")
    .option("--detection-paranoia <n>", "also report rules up to this level (default: --paranoia)")
    .option("--threshold <n>", "anomaly score that blocks", "5")
    .action(async (o: { rules?: string; paranoia: string; detectionParanoia?: string; threshold: string }) => {
      const paranoia = level(o.paranoia, "--paranoia");
      const detection = o.detectionParanoia === undefined ? paranoia : level(o.detectionParanoia, "--detection-paranoia");
      if (detection < paranoia) throw new UsageError("--detection-paranoia must be at least --paranoia");
      const threshold = Number(o.threshold);
      if (!Number.isInteger(threshold) || threshold < 1) throw new UsageError(`--threshold must be a positive integer, got ${o.threshold}`);
      const config = wafConfigSchema.parse({ paranoia, detection_paranoia: detection, threshold, mode: "block", limits: { on_exceed: "partial" } });
      const engine = new WafEngine(loadRules(o.rules ?? bundledRulesDir()), settingsFrom(config));
      const input = parseRawHttp(await readStdin());
      const path = input.uri.split("?")[0] ?? "/";
      const v = engine.evaluate(input, { route: "", path });
      const out = {
        verdict: v.action === "pass" ? "pass" : "block",
        score: v.score,
        detection_score: v.detectionScore,
        threshold: v.threshold,
        paranoia,
        detection_paranoia: detection,
        matches: v.matches,
        limits_exceeded: v.exceeded,
      };
      process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    });
  waf
    .command("rules")
    .description("list the rules of a directory or file (id, paranoia level, severity, file, message)")
    .option("--rules <path>", "rules directory or file (default: the bundled waf-rules/)")
    .option("--json", "print JSON")
    .action((o: { rules?: string; json?: boolean }) => {
      const rules = loadRules(o.rules ?? bundledRulesDir());
      if (o.json) {
        // literals: the strings that gate the rule's head (null: it runs on every value it targets)
        const list = rules.map((r) => ({ id: r.id, paranoia: r.paranoia, severity: r.severity, phase: r.phase, tags: r.tags, msg: r.msg, location: r.location, literals: r.literals ?? null }));
        process.stdout.write(JSON.stringify(list) + "\n");
        return;
      }
      for (const r of rules) process.stdout.write(`${r.id}\tPL${r.paranoia}\t${r.severity}\t${ruleFileOf(r)}\t${r.msg}\n`);
    });
}
