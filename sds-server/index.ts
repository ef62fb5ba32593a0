/** Public surface of sds-server/: the agent imports the server, sidecars the client. */
export { SdsServer, type SdsServerOptions } from "./server.js";
export { SdsClient, type SdsClientOptions, type SdsClientEvents, type SdsClientStatus, type DisconnectInfo } from "./client.js";
export type { SdsEvent } from "./events.js";
export { SdsError, isSdsError, CloseCode, type SdsErrorCode } from "./errors.js";
export { backoffDelay, DEFAULT_BACKOFF, type Backoff } from "./backoff.js";
export {
  SECRET_TYPE_URL,
  DEFAULT_RESOURCE,
  ROOTCA_RESOURCE,
  RESOURCE_NAMES,
  LIMITS,
  isValidWorkloadName,
  parseDiscoveryRequest,
  parseDiscoveryResponse,
  type WorkloadSecrets,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type SecretResource,
  type ResourceName,
} from "./protocol.js";
