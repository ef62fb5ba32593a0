/** Every benchmark the runner knows, in the order they run and appear in RESULTS.md. Add new ones here. */
import { auditAppend } from "./audit-append.js";
import { auditExport } from "./audit-export.js";
import { authCost } from "./auth-cost.js";
import { caSign } from "./ca-sign.js";
import type { Benchmark } from "./lib/types.js";
import { massRotation } from "./mass-rotation.js";
import { proxyPair } from "./proxy-pair.js";
import { sdsFanout } from "./sds-fanout.js";
import { wafCorpus } from "./waf-corpus.js";
import { wafSpeed } from "./waf-speed.js";

export const BENCHMARKS: readonly Benchmark[] = [caSign, sdsFanout, massRotation, proxyPair, authCost, wafCorpus, wafSpeed, auditAppend, auditExport];
