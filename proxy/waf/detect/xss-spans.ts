/**
 * Where a tokenizer run over some text was in the HTML data state, so that
 * runs of the same text from other start states can stop once they rejoin it.
 */

/**
 * Where a tokenizer started in the data state left it (at a "<" that opened a
 * tag or comment) and came back (after the ">"). A run of the same text from
 * another start state that comes back to the data state at a position where
 * this run also was in it will see the same tokens from there on, so it can stop.
 */
export class DataSpans {
  private readonly at: number[] = [];

  /** Left the data state at "<" (position lt). */
  open(lt: number): void {
    this.at.push(lt);
  }

  /** That "<" was text after all. */
  cancel(): void {
    this.at.pop();
  }

  /** Back in the data state, next character at p. */
  close(p: number): void {
    this.at.push(p);
  }

  /** Whether the recorded run was in the data state with p as its next character. */
  inData(p: number): boolean {
    const a = this.at;
    // Last span whose "<" lies before p: spans are [a[2k], a[2k+1]) minus their "<".
    let lo = 0;
    let hi = (a.length + 1) >> 1; // number of spans
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[2 * mid] < p) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return true;
    const end = 2 * (lo - 1) + 1;
    return end < a.length && p >= a[end];
  }
}
