/**
 * The collections of one parsed request. A Map grows its hash table twice
 * while a plain GET fills its nine collections (about a third of what
 * parseRequest allocates); there are only COLLECTIONS.length keys, so one
 * slot array indexed by COLLECTION_INDEX holds them instead. Iteration
 * follows COLLECTIONS order, not insertion order (no reader depends on it).
 */
import type { Arg, Collection, Collections } from "../types.js";
import { COLLECTION_INDEX, COLLECTIONS } from "../types.js";

export class CollectionMap implements Collections {
  private readonly slots = new Array<readonly Arg[] | undefined>(COLLECTIONS.length).fill(undefined);
  private count = 0;

  get size(): number {
    return this.count;
  }

  set(key: Collection, list: readonly Arg[]): void {
    const i = COLLECTION_INDEX.get(key)!;
    if (this.slots[i] === undefined) this.count++;
    this.slots[i] = list;
  }

  get(key: Collection): readonly Arg[] | undefined {
    const i = COLLECTION_INDEX.get(key);
    return i === undefined ? undefined : this.slots[i];
  }

  at(index: number): readonly Arg[] | undefined {
    return this.slots[index];
  }

  has(key: Collection): boolean {
    return this.get(key) !== undefined;
  }

  forEach(fn: (list: readonly Arg[], key: Collection, map: ReadonlyMap<Collection, readonly Arg[]>) => void): void {
    const s = this.slots;
    for (let i = 0; i < s.length; i++) {
      const list = s[i];
      if (list !== undefined) fn(list, COLLECTIONS[i]!, this);
    }
  }

  *entries(): MapIterator<[Collection, readonly Arg[]]> {
    const s = this.slots;
    for (let i = 0; i < s.length; i++) {
      const list = s[i];
      if (list !== undefined) yield [COLLECTIONS[i]!, list];
    }
  }

  *keys(): MapIterator<Collection> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<readonly Arg[]> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[Collection, readonly Arg[]]> {
    return this.entries();
  }
}
