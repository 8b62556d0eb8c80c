/**
 * Prometheus metrics (`GET /metrics`, text format 0.0.4). Plain counters in memory; recording is a few additions,
 * so the hot path stays cheap.
 */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type Protocol = 'v1' | 'v2' | 'other';

export class Metrics {
  private readonly requests: Record<Protocol, Map<number, number>> = { v1: new Map(), v2: new Map(), other: new Map() };
  private readonly bucketCounts = new Array<number>(BUCKETS.length).fill(0);
  private inferenceCount = 0;
  /** Inference requests accepted and not yet answered (body being read, queued or running). */
  inFlight = 0;
  private inferenceSum = 0;
  private readonly labels: string;

  constructor(
    modelName: string,
    modelVersion: string,
    private readonly isReady: () => boolean,
  ) {
    this.labels = `model="${escapeLabel(modelName)}",version="${escapeLabel(modelVersion)}"`;
  }

  request(protocol: Protocol, status: number): void {
    const counts = this.requests[protocol];
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }

  /** Records the duration of one successful inference, in seconds. */
  inference(seconds: number): void {
    this.inferenceCount++;
    this.inferenceSum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) {
      if (seconds <= (BUCKETS[i] as number)) {
        this.bucketCounts[i] = (this.bucketCounts[i] as number) + 1;
        break;
      }
    }
  }

  render(): string {
    const l = this.labels;
    const lines = [
      '# HELP merlin_model_ready 1 when the model is loaded and its warm-up inference succeeded.',
      '# TYPE merlin_model_ready gauge',
      `merlin_model_ready{${l}} ${this.isReady() ? 1 : 0}`,
      '# HELP merlin_inference_requests_in_flight Inference requests being read, run or answered.',
      '# TYPE merlin_inference_requests_in_flight gauge',
      `merlin_inference_requests_in_flight{${l}} ${this.inFlight}`,
      '# HELP merlin_requests_total HTTP requests by protocol and status code.',
      '# TYPE merlin_requests_total counter',
    ];
    for (const [protocol, counts] of Object.entries(this.requests)) {
      for (const [code, n] of counts)
        lines.push(`merlin_requests_total{${l},protocol="${protocol}",code="${code}"} ${n}`);
    }
    lines.push(
      '# HELP merlin_inference_duration_seconds Model inference time (runtime only, without JSON parsing).',
      '# TYPE merlin_inference_duration_seconds histogram',
    );
    let cumulative = 0;
    BUCKETS.forEach((le, i) => {
      cumulative += this.bucketCounts[i] as number;
      lines.push(`merlin_inference_duration_seconds_bucket{${l},le="${le}"} ${cumulative}`);
    });
    lines.push(
      `merlin_inference_duration_seconds_bucket{${l},le="+Inf"} ${this.inferenceCount}`,
      `merlin_inference_duration_seconds_sum{${l}} ${this.inferenceSum}`,
      `merlin_inference_duration_seconds_count{${l}} ${this.inferenceCount}`,
    );
    return `${lines.join('\n')}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
