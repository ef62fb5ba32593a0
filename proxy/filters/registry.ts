/**
 * Filter name → factory: how the chain builder turns `filters: [{ <name>: <config> }]`
 * into filters. authn hosts the authentication providers (proxy/auth/); waf runs the WAF engine (proxy/waf/).
 */
import { authnFilter } from "../auth/authn-filter.js";
import { authzFilter } from "./authz.js";
import { rateLimitFilter } from "./rate-limit.js";
import type { FilterFactory } from "./types.js";
import { wafFilter } from "./waf.js";

const factories: readonly FilterFactory[] = [authzFilter, rateLimitFilter, authnFilter as FilterFactory, wafFilter as FilterFactory];

export const FILTER_FACTORIES: ReadonlyMap<string, FilterFactory> = new Map(factories.map((f) => [f.name, f]));

/** The factory registered under name, or undefined. */
export function filterFactory(name: string): FilterFactory | undefined {
  return FILTER_FACTORIES.get(name);
}

/** Registered filter names, for error messages ("expected one of ..."). */
export function filterNames(): string[] {
  return [...FILTER_FACTORIES.keys()];
}
