/**
 * The one place @peculiar/x509 is loaded: it needs the Reflect polyfill and a
 * WebCrypto provider before first use. Import x509 from here, never directly.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// The library types its provider with the DOM `Crypto`; Node's webcrypto is that object.
type ProviderCrypto = Parameters<typeof x509.cryptoProvider.set>[1];
x509.cryptoProvider.set(webcrypto as unknown as ProviderCrypto);

export { x509 };
