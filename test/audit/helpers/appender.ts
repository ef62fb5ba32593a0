/**
 * Child process for the multi-process audit tests (not a test file itself).
 *   node appender.js <db path> burst <tag> <count> [key file]
 *                                                    append count events after "go", then report "done";
 *                                                    with a key file (created if missing), sign checkpoints
 *   node appender.js <db path> stream <tag>          after "go", append until "stop", reporting every
 *                                                    returned seq and hash over IPC
 */
import { AuditLog } from "../../../audit/store.js";

export type AppenderMessage =
  | { type: "ready" }
  | { type: "seq"; seq: number; hash: string }
  | { type: "done"; first: number; last: number }
  | { type: "error"; message: string };

const [path, mode, tag, countArg, keyFile] = process.argv.slice(2);

function send(msg: AppenderMessage, then?: () => void): void {
  process.send?.(msg, undefined, {}, () => then?.());
}

function fail(err: unknown): void {
  send({ type: "error", message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, () =>
    process.exit(1),
  );
}

try {
  const checkpoints = keyFile === undefined ? undefined : { keyFile, createKey: true, everyEvents: 1000, everyMs: 0 };
  const log = AuditLog.open(path, { busyTimeoutMs: 15_000, checkpoints });
  let stopping = false;

  const burst = (): void => {
    const count = Number(countArg);
    let first = 0;
    let last = 0;
    for (let i = 0; i < count; i++) {
      const ev = log.append({ component: "test", action: "burst", outcome: "success", actor: tag, details: { i } });
      if (i === 0) first = ev.seq;
      last = ev.seq;
    }
    log.close();
    send({ type: "done", first, last }, () => process.exit(0));
  };

  let i = 0;
  const stream = (): void => {
    if (stopping) {
      log.close();
      send({ type: "done", first: 0, last: 0 }, () => process.exit(0));
      return;
    }
    // Report only after append returned: a reported seq was acknowledged to the caller.
    const ev = log.append({ component: "test", action: "stream", outcome: "success", actor: tag, details: { i: i++ } });
    send({ type: "seq", seq: ev.seq, hash: ev.hash });
    setImmediate(() => {
      try {
        stream();
      } catch (err) {
        fail(err);
      }
    });
  };

  process.on("message", (msg: unknown) => {
    try {
      if (msg === "go") (mode === "burst" ? burst : stream)();
      else if (msg === "stop") stopping = true;
    } catch (err) {
      fail(err);
    }
  });
  send({ type: "ready" });
} catch (err) {
  fail(err);
}
