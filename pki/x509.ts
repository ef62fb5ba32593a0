/**
 * The one place @peculiar/x509 is loaded: it needs the Reflect polyfill and a
 * WebCrypto provider before first use. Import x509 from here, never directly.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
