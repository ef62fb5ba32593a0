/** Small synchronous file helpers shared by keys, archives and the ship cursor. */
import { closeSync, constants as fsConstants, fsyncSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** Writes all of data at the fd's position (writeSync may take only part of it). */
export function writeAllSync(fd: number, data: string | Buffer): void {
  const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Makes a file created or renamed in path's directory durable. Best effort: not every file system lets a directory be synced. */
export function fsyncDirOf(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dirname(path), fsConstants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // the file itself was synced
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
