/**
 * At most N audit events per second: a flood (bad TLS handshakes, 429s)
 * must not fill the audit log; what is dropped is still counted in
 * /metrics by the caller. Time is a parameter.
 */
export class AuditWindow {
  private second = -1;
  private n = 0;

  constructor(
    private readonly perSecond: number,
    private readonly nowMs: () => number,
  ) {}

  /** True when one more event fits in the current second. */
  allow(): boolean {
    const second = Math.floor(this.nowMs() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.n = 0;
    }
    return ++this.n <= this.perSecond;
  }
}
