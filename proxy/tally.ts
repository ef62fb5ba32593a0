/**
 * Counters and a histogram for the request path, kept as plain numbers and
 * handed to the prom-client registry only when /metrics is scraped.
 * prom-client's labelled children hash their label set on every inc() and
 * observe(): about 0.9 µs a request for the three metrics every request
 * touches. Here a request costs a few map lookups on strings it already
 * holds (listener, route and cluster names come from config) and some
 * increments. Series are never removed, like prom-client's; their number is
 * bounded by the config (statuses are three digits).
 */
import type { Metric, Registry } from "prom-client";

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}
interface Snapshot {
  name: string;
  help: string;
  type: "counter" | "histogram";
  aggregator: "sum";
  values: Sample[];
}

/** One series of a TallyCounter. */
export interface CounterSeries {
  readonly labels: Labels;
  value: number;
}

/** What the registry calls on a metric (prom-client's Metric classes have the same members). */
abstract class Exported {
  readonly aggregator = "sum" as const;
  abstract readonly type: "counter" | "histogram";

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // the registry only calls get(), reset() and reads name, help, type and aggregator
    registry.registerMetric(this as unknown as Metric);
  }

  protected labelsOf(values: readonly string[]): Labels {
    const labels: Labels = {};
    this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ""));
    return labels;
  }

  get(): Promise<Snapshot> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() });
  }

  abstract samples(): Sample[];
  abstract reset(): void;
}

/** A counter whose series are looked up once by the caller and then incremented directly. */
export class TallyCounter extends Exported {
  readonly type = "counter" as const;
  private readonly all: CounterSeries[] = [];

  /** A new series for these label values (the caller keeps it; asking twice for the same values makes two). */
  series(values: readonly string[]): CounterSeries {
    const s = { labels: this.labelsOf(values), value: 0 };
    this.all.push(s);
    return s;
  }

  samples(): Sample[] {
    return this.all.filter((s) => s.value > 0).map((s) => ({ value: s.value, labels: s.labels }));
  }

  reset(): void {
    for (const s of this.all) s.value = 0;
  }
}

/** One series of a TallyHistogram: counts per bucket (not cumulative), sum and count. */
export interface HistogramSeries {
  readonly labels: Labels;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class TallyHistogram extends Exported {
  readonly type = "histogram" as const;
  private readonly all: HistogramSeries[] = [];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  series(values: readonly string[]): HistogramSeries {
    const s = { labels: this.labelsOf(values), counts: new Float64Array(this.bounds.length), sum: 0, count: 0 };
    this.all.push(s);
    return s;
  }

  observe(s: HistogramSeries, v: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        s.counts[i]!++;
        break;
      }
    }
    s.sum += v;
    s.count++;
  }

  samples(): Sample[] {
    const out: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all) {
      if (s.count === 0) continue;
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        out.push({ value: acc, labels: { le, ...s.labels }, metricName: bucket });
      });
      out.push({ value: s.count, labels: { le: "+Inf", ...s.labels }, metricName: bucket });
      out.push({ value: s.sum, labels: s.labels, metricName: `${this.name}_sum` });
      out.push({ value: s.count, labels: s.labels, metricName: `${this.name}_count` });
    }
    return out;
  }

  reset(): void {
    for (const s of this.all) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
