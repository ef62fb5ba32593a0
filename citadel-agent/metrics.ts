/** The agent's Prometheus metrics (one registry per agent, so tests can run several). */
import { Counter, Gauge, Registry } from "prom-client";

export class AgentMetrics {
  readonly registry = new Registry();
  readonly expiry = new Gauge({
    name: "mesh_agent_identity_expiry_timestamp_seconds",
    help: "Absolute expiry time (unix seconds) of each identity the agent holds",
    labelNames: ["spiffe_id", "kind"] as const,
    registers: [this.registry],
  });
  readonly renewals = new Counter({
    name: "mesh_agent_renewals_total",
    help: "Identity renewals, by kind (node, workload) and outcome",
    labelNames: ["kind", "outcome"] as const,
    registers: [this.registry],
  });
  readonly caErrors = new Counter({
    name: "mesh_agent_ca_errors_total",
    help: "Failed calls to the CA, by operation",
    labelNames: ["op"] as const,
    registers: [this.registry],
  });
  readonly workloads = new Gauge({ name: "mesh_agent_workloads", help: "Workloads registered to this node", registers: [this.registry] });
  readonly bundleSequence = new Gauge({ name: "mesh_agent_bundle_sequence", help: "Sequence number of the trust bundle the agent serves", registers: [this.registry] });
  readonly sdsSubscribers = new Gauge({
    name: "mesh_agent_sds_subscribers",
    help: "Connected SDS clients",
    registers: [this.registry],
  });
}
