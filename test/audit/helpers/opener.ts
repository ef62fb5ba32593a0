/**
 * Child process for the open-race test (not a test file itself):
 *   node opener.js <db path>   opens the log (creating and migrating it if new), appends one event,
 *                              closes it; exit 0, or 1 with the error on stdout
 */
import { AuditLog } from "../../../audit/store.js";

const path = process.argv[2]!;
try {
  const log = AuditLog.open(path);
  log.append({ component: "test", action: "open.race", outcome: "success", actor: `pid-${process.pid}` });
  log.close();
} catch (err) {
  process.stdout.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
