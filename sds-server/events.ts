/** Events the SDS server reports to its embedder (the agent turns them into audit records). Never carries a token or key. */
export type SdsEvent =
  | { type: "connection_denied"; workload: string; reason: string }
  | { type: "nack"; workload: string; /** the version the client rejected */ version: string; message: string }
  | { type: "connected" | "disconnected"; workload: string }
  | { type: "protocol_error"; workload: string; reason: string };
