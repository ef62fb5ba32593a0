/** The process logger: JSON lines on stderr (pino), level from --log-level or MESH_LOG_LEVEL. */
import { pino, destination, stdTimeFunctions, type Logger } from "pino";

export function createLogger(component: string, level = process.env.MESH_LOG_LEVEL ?? "info"): Logger {
  return pino(
    {
      level,
      base: { component },
      timestamp: stdTimeFunctions.isoTime,
      // a safety net: these never reach the log even if a caller passes them
      redact: { paths: ["token", "password", "passphrase", "authorization", "*.token", "*.password", "*.authorization", "headers.authorization", "key", "private_key"], censor: "[REDACTED]" },
    },
    destination({ fd: 2, sync: true }),
  );
}
