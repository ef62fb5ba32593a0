/**
 * Multi-pattern phrase matching (ModSecurity's @pm): one pass over the
 * input finds any of thousands of phrases, so a rule's cost does not grow
 * with its phrase list. It is the prefilter's automaton (TriggerMatcher)
 * with one slot per phrase. Case-insensitive for ASCII, like @pm.
 */
import { lowerAscii } from "./prefilter/literals.js";
import { TriggerMatcher } from "./prefilter/trigger-matcher.js";

export class PhraseMatcher {
  private readonly phrases: readonly string[];
  private readonly matcher: TriggerMatcher;
  readonly size: number;

  constructor(phrases: readonly string[]) {
    this.phrases = [...new Set(phrases.map(lowerAscii).filter((p) => p.length > 0))];
    this.size = this.phrases.length;
    this.matcher = new TriggerMatcher(this.phrases.map((p) => [p]));
  }

  /** The first phrase found in input (the longest of those ending first), lower-cased; undefined when none. */
  find(input: string): string | undefined {
    const hit = this.matcher.firstIn(input);
    return hit === undefined ? undefined : this.phrases[hit.slot];
  }
}
