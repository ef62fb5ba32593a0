/** Audit events shaped like the mesh's busiest ones (a sidecar's authorization decision), for the audit benchmarks. */
import type { AuditEventInput } from "../../audit/event.js";

const METHODS = ["GET", "POST", "PUT", "DELETE"] as const;

/** Event i: about 450 bytes as stored, one in five a deny with a reason. */
export function benchEvent(i: number): AuditEventInput {
  const deny = i % 5 === 0;
  return {
    component: "proxy",
    action: "proxy.authz",
    outcome: deny ? "deny" : "success",
    actor: "spiffe://example.org/ns/shop/sa/frontend",
    subject: "spiffe://example.org/ns/shop/sa/backend",
    reason: deny ? "no ALLOW policy matched" : "",
    details: { method: METHODS[i & 3], path: `/api/v1/items/${i}`, status: deny ? 403 : 200, peer: "10.0.3.17:51234", route: "items", i },
  };
}
