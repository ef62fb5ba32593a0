/** Every authentication provider type, by the key used in config (`providers: { name: { <type>: … } }`). */
import { apiKeyProvider } from "./api-key.js";
import { basicProvider } from "./basic.js";
import { hmacProvider } from "./hmac.js";
import { jwtProvider } from "./jwt.js";
import type { ProviderFactory } from "./types.js";

const all: ProviderFactory[] = [jwtProvider as ProviderFactory, hmacProvider as ProviderFactory, basicProvider as ProviderFactory, apiKeyProvider as ProviderFactory];

export const AUTH_PROVIDERS: ReadonlyMap<string, ProviderFactory> = new Map(all.map((f) => [f.type, f]));
