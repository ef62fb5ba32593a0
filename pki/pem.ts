/** PEM encoding and decoding, bounded and strict about labels. */
import { PkiError } from "./errors.js";

export function pemEncode(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export interface PemBlock {
  label: string;
  der: Buffer;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/** Every PEM block in the text, in order. Text over maxBytes is refused. */
export function pemDecodeAll(text: string, maxBytes = 1 << 20): PemBlock[] {
  if (text.length > maxBytes) throw new PkiError("invalid_argument", `PEM input larger than ${maxBytes} bytes`);
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    out.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ""), "base64") });
  }
  return out;
}

/** The DER of every block with the given label (e.g. all CERTIFICATEs of a chain). */
export function pemDecodeLabel(text: string, label: string, maxBytes?: number): Buffer[] {
  return pemDecodeAll(text, maxBytes).filter((b) => b.label === label).map((b) => b.der);
}
