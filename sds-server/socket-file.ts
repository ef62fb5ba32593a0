/**
 * Creating a workload's Unix socket so that it is never reachable by anyone
 * but its owner: mode 0600 from the moment of bind (umask), then chmod and,
 * when running as root, chown to the workload's uid/gid.
 */
import { chmod, chown, lstat, mkdir, unlink } from "node:fs/promises";
import type { Server } from "node:net";
import { SdsError } from "./errors.js";

/** sun_path is 108 bytes on Linux and 104 on the BSDs, NUL included. */
const MAX_SOCKET_PATH_BYTES = process.platform === "linux" ? 107 : 103;

function errno(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Removes a stale socket left by a previous run; anything else at that path (file, symlink, dir) is refused. */
export async function removeStaleSocket(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new SdsError("invalid_argument", `socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes: ${path}`);
  }
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new SdsError("conflict", `${path} exists and is not a socket`);
    await unlink(path);
  } catch (err) {
    if (errno(err) !== "ENOENT") throw err;
  }
}

/** Listens on `path` with a 0177 umask so the socket is born 0600, then makes sure of it. */
export async function listenPrivate(server: Server, path: string, owner: { uid?: number; gid?: number }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    // bind(2) happens synchronously inside listen() for a non-cluster process, so the umask window is this call only.
    const previous = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off("error", onError);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
  await chmod(path, 0o600);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (isRoot && (owner.uid !== undefined || owner.gid !== undefined)) {
    await chown(path, owner.uid ?? -1, owner.gid ?? -1);
  }
}

export async function unlinkQuietly(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (st.isSocket()) await unlink(path);
  } catch (err) {
    if (errno(err) !== "ENOENT") throw err;
  }
}
