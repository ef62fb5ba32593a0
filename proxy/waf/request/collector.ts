/**
 * Where the request parsers put what they find. It enforces the inspection
 * limits in one place (argument count, value length, entries per
 * collection) and records which limits were passed, so each parser only
 * has to stop when told to.
 */
import type { Arg, Collection, InspectionLimits, LimitExceeded } from "../types.js";
import type { CollectionMap } from "./collection-map.js";

export class Collector {
  readonly exceeded: LimitExceeded[] = [];
  readonly queryArgs: Arg[] = [];
  readonly queryNames: Arg[] = [];
  readonly bodyArgs: Arg[] = [];
  readonly bodyNames: Arg[] = [];
  readonly files: Arg[] = [];
  readonly filesNames: Arg[] = [];
  readonly multipartHeaders: Arg[] = [];
  readonly xml: Arg[] = [];
  /** The first reason the body could not be parsed (later ones add nothing a rule needs). */
  bodyError: string | undefined;
  /** Sum of the lengths of every kept arg name and value. */
  combinedSize = 0;
  /** The first Host header, as sent (set by collectHeaders). */
  host: string | undefined = undefined;
  readonly maxValue: number;
  readonly maxArgs: number;
  readonly maxDepth: number;
  readonly maxParts: number;
  readonly maxBody: number;
  private argCount = 0;

  constructor(limits: InspectionLimits) {
    // Limits come from config; a negative or fractional one must not turn a loop bound into nonsense.
    this.maxValue = clampLimit(limits.valueBytes);
    this.maxArgs = clampLimit(limits.args);
    this.maxDepth = clampLimit(limits.depth);
    this.maxParts = clampLimit(limits.parts);
    this.maxBody = clampLimit(limits.bodyBytes);
  }

  exceed(kind: LimitExceeded): void {
    if (!this.exceeded.includes(kind)) this.exceeded.push(kind);
  }

  /** A name or value cut to limits.valueBytes (strings are latin1, so length is bytes). */
  cut(s: string): string {
    if (s.length <= this.maxValue) return s;
    this.exceed("value_bytes");
    return s.slice(0, this.maxValue);
  }

  /** True while another query/body arg would still fit. */
  get argsOpen(): boolean {
    return this.argCount < this.maxArgs;
  }

  /** Adds a query arg; false (and "args" exceeded) when the limit is reached, so the caller stops. */
  queryArg(name: string, value: string): boolean {
    return this.arg(this.queryArgs, this.queryNames, name, value);
  }

  /** nameArg: the name's own entry for the names collection when the parser keeps one across requests (a JSON name). */
  bodyArg(name: string, value: string, nameArg?: Arg): boolean {
    return this.arg(this.bodyArgs, this.bodyNames, name, value, nameArg);
  }

  /** Adds to a collection that is not args (cookies, files, xml, part headers): each holds at most limits.args entries. */
  push(list: Arg[], name: string, value: string): boolean {
    if (list.length >= this.maxArgs) {
      this.exceed("args");
      return false;
    }
    list.push({ name: this.cut(name), value: this.cut(value) });
    return true;
  }

  /** Records why the body is malformed; the first reason is kept. */
  error(reason: string): void {
    if (this.bodyError === undefined) this.bodyError = reason;
  }

  /** Puts the collected lists into the map, leaving out empty ones. */
  finish(m: CollectionMap): void {
    setIf(m, "query_args", this.queryArgs);
    setIf(m, "query_args_names", this.queryNames);
    setIf(m, "body_args", this.bodyArgs);
    setIf(m, "body_args_names", this.bodyNames);
    // args = query + body; share the array when one side is empty instead of copying.
    if (this.bodyArgs.length === 0) {
      setIf(m, "args", this.queryArgs);
      setIf(m, "args_names", this.queryNames);
    } else if (this.queryArgs.length === 0) {
      m.set("args", this.bodyArgs);
      m.set("args_names", this.bodyNames);
    } else {
      m.set("args", this.queryArgs.concat(this.bodyArgs));
      m.set("args_names", this.queryNames.concat(this.bodyNames));
    }
    setIf(m, "files", this.files);
    setIf(m, "files_names", this.filesNames);
    setIf(m, "multipart_headers", this.multipartHeaders);
    setIf(m, "xml", this.xml);
    m.set("args_combined_size", scalar("args_combined_size", String(this.combinedSize)));
    if (this.bodyError !== undefined) m.set("body_error", scalar("body_error", this.bodyError));
  }

  private arg(args: Arg[], names: Arg[], name: string, value: string, nameArg?: Arg): boolean {
    if (this.argCount >= this.maxArgs) {
      this.exceed("args");
      return false;
    }
    this.argCount++;
    const n = name.length <= this.maxValue ? name : this.cut(name);
    const v = value.length <= this.maxValue ? value : this.cut(value);
    args.push({ name: n, value: v });
    names.push(nameArg !== undefined && n === name ? nameArg : { name: n, value: n });
    this.combinedSize += n.length + v.length;
    return true;
  }
}

/** A one-entry collection whose Arg is named like the collection. */
export function scalar(name: Collection, value: string): Arg[] {
  return [{ name, value }];
}

function setIf(m: CollectionMap, key: Collection, list: readonly Arg[]): void {
  if (list.length > 0) m.set(key, list);
}

function clampLimit(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
