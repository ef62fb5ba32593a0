/** Certificate serial numbers: 128 random bits, positive, compared in one normal form. */
import { randomBytes } from "node:crypto";

/** 16 random bytes with the top bit cleared so the DER INTEGER stays positive and 16 bytes long. */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // keep it non-zero and positive
  return b;
}

/** Normal form used everywhere (store, CRL, validator): lowercase hex, no leading zeros, no separators. */
export function normalizeSerial(hex: string): string {
  const clean = hex.replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(clean)) throw new RangeError(`not a hex serial: ${hex}`);
  const stripped = clean.replace(/^0+/, "");
  return stripped === "" ? "0" : stripped;
}

export function serialHex(serial: Buffer): string {
  return normalizeSerial(serial.toString("hex"));
}
