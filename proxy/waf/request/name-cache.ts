/**
 * Names of JSON leaves ("json.items.0.sku") as a tree of nodes kept from one
 * request to the next, so a name is the same string, and its entry in the
 * names collection (`arg`) the same frozen object, every time: nothing is
 * joined or allocated per leaf, and the engine recognises a body's list of
 * names from the last request by identity (inspection.ts, Inspection.column).
 * A node's strings are copies, never views of the body they were read from.
 *
 * The tree also lets the JSON tokenizer skip reading keys: an API's bodies
 * list an object's keys in the same order every time, so the key met first
 * at a position of an object is expected there again (expectedKey), and the
 * tokenizer compares it with the input in place instead of cutting the key
 * out, hashing it and looking it up.
 *
 * Bounded: at most MAX_NAMES names and MAX_CHARS characters, then the tree
 * starts over (a flood of distinct keys costs a rebuild, never memory).
 */
import type { Arg } from "../types.js";
import { detached } from "./text.js";

const MAX_NAMES = 8192;
const MAX_CHARS = 1 << 20;

export class NameNode {
  private byKey: Map<string, NameNode> | undefined;
  private byIndex: NameNode[] | undefined;
  /** Children by the position their key had in the object when first met. */
  private order: NameNode[] | undefined;

  /** The name's entry in a request's names collection, the same (frozen) object in every request (see Arg). */
  readonly arg: Arg;

  constructor(
    readonly name: string,
    /** The key this node is reached by, when it can be compared with the input as it is (no escapes); else undefined. */
    readonly plainKey: string | undefined,
  ) {
    this.arg = Object.freeze({ name, value: name });
  }

  /** The child for an object key (plain: the key was read without escapes); `position` is the key's place in its object. */
  keyChild(key: string, plain: boolean, position: number): NameNode {
    const map = (this.byKey ??= new Map());
    let node = map.get(key);
    if (node === undefined) {
      node = grow(`${this.name}.${key}`, plain ? key : undefined);
      // the Map keeps its key: a copy, not the slice of the body (see grow)
      map.set(node.plainKey ?? detached(key), node);
    }
    const order = (this.order ??= []);
    if (position === order.length && node.plainKey !== undefined) order.push(node);
    return node;
  }

  /** The child for an array index. */
  indexChild(i: number): NameNode {
    const list = (this.byIndex ??= []);
    let node = list[i];
    if (node === undefined) {
      node = grow(`${this.name}.${i}`, undefined);
      // a tokenizer asks for an array's indexes in order from 0, so the list grows by one (never a hole)
      if (i === list.length) list.push(node);
    }
    return node;
  }

  /** The child whose key came at this position when the object was first met (compare its plainKey with the input). */
  expectedKey(position: number): NameNode | undefined {
    return this.order?.[position];
  }
}

let root = new NameNode("json", undefined);
let names = 0;
let chars = 0;

/** The node of a JSON document's root ("json"). */
export function rootName(): NameNode {
  return root;
}

function grow(name: string, plainKey: string | undefined): NameNode {
  if (names >= MAX_NAMES || chars >= MAX_CHARS) {
    // start over: nodes handed out before stay valid for the parse holding them, only no longer shared
    root = new NameNode("json", undefined);
    names = 0;
    chars = 0;
  }
  names++;
  chars += name.length;
  // a node outlives its request: the key is cut from the body, and the joined name holds the key until V8
  // flattens it, so either would keep the whole body alive (one body per new long key, up to MAX_NAMES)
  return new NameNode(detached(name), plainKey === undefined ? undefined : detached(plainKey));
}
