/**
 * Prometheus metrics (`GET /metrics`, text format 0.0.4). Plain counters in memory; recording is a few additions,
 * so the hot path stays cheap. Every sample carries `model` and `version`.
 *
 * | metric | type | labels | meaning |
 * |---|---|---|---|
 * | `merlin_model_ready` | gauge | | 1 once the model is loaded and warmed up, 0 before and while draining |
 * | `merlin_inference_requests_in_flight` | gauge | | predict/infer requests accepted and not yet answered |
 * | `merlin_requests_total` | counter | `protocol`, `code`, `status` | HTTP requests answered; `status` is the HTTP status code (`code`, the same value, is kept from the first release) |
 * | `merlin_request_duration_seconds` | histogram | `protocol` | predict/infer requests, from arrival to the last byte of the answer, any status |
 * | `merlin_inference_duration_seconds` | histogram | | calls of the model that succeeded (one per merged batch) |
 * | `merlin_batch_size` | histogram | | rows per call of the model, with adaptive batching on |
 * | `merlin_batch_requests` | histogram | | requests merged per call of the model, with adaptive batching on |
 */
const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

export type Protocol = 'v1' | 'v2' | 'other';
export type InferenceProtocol = 'v1' | 'v2';
const PROTOCOLS: readonly Protocol[] = ['v1', 'v2', 'other'];

/** A Prometheus histogram: cumulative buckets are computed when rendering. */
export class Histogram {
  private readonly counts: number[];
  private count = 0;
  private sum = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }

  /** Appends the `_bucket`, `_sum` and `_count` samples; `labels` is the inside of `{...}`. */
  render(name: string, labels: string, lines: string[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i] as number;
      lines.push(`${name}_bucket{${labels},le="${this.bounds[i]}"} ${cumulative}`);
    }
    lines.push(
      `${name}_bucket{${labels},le="+Inf"} ${this.count}`,
      `${name}_sum{${labels}} ${this.sum}`,
      `${name}_count{${labels}} ${this.count}`,
    );
  }
}

export class Metrics {
  private readonly requests: Record<Protocol, Map<number, number>> = { v1: new Map(), v2: new Map(), other: new Map() };
  private readonly durations: Record<InferenceProtocol, Histogram> = {
    v1: new Histogram(SECONDS_BUCKETS),
    v2: new Histogram(SECONDS_BUCKETS),
  };
  private readonly inferences = new Histogram(SECONDS_BUCKETS);
  private readonly batchRows = new Histogram(SIZE_BUCKETS);
  private readonly batchRequests = new Histogram(SIZE_BUCKETS);
  /** Whether the batch histograms are rendered (adaptive batching is on). */
  batching = false;
  /** Inference requests accepted and not yet answered (body being read, queued or running). */
  inFlight = 0;
  private readonly labels: string;

  constructor(
    modelName: string,
    modelVersion: string,
    private readonly isReady: () => boolean,
  ) {
    this.labels = `model="${escapeLabel(modelName)}",version="${escapeLabel(modelVersion)}"`;
  }

  /** Counts one answered HTTP request. */
  request(protocol: Protocol, status: number): void {
    const counts = this.requests[protocol];
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }

  /** Records how long one predict/infer request took, arrival to answer, in seconds. */
  requestDuration(protocol: InferenceProtocol, seconds: number): void {
    this.durations[protocol].observe(seconds);
  }

  /** Records the duration of one successful call of the model, in seconds. */
  inference(seconds: number): void {
    this.inferences.observe(seconds);
  }

  /** Records one call of the model made by the batcher: its rows and the requests merged into it. */
  batch(rows: number, requests: number): void {
    this.batchRows.observe(rows);
    this.batchRequests.observe(requests);
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
      '# HELP merlin_requests_total HTTP requests by protocol and status code (status, and code with the same value).',
      '# TYPE merlin_requests_total counter',
    ];
    for (const protocol of PROTOCOLS) {
      const counts = [...this.requests[protocol]].sort((a, b) => a[0] - b[0]);
      for (const [status, n] of counts) {
        lines.push(`merlin_requests_total{${l},protocol="${protocol}",code="${status}",status="${status}"} ${n}`);
      }
    }
    lines.push(
      '# HELP merlin_request_duration_seconds Predict and infer requests, from arrival to answer, by protocol.',
      '# TYPE merlin_request_duration_seconds histogram',
    );
    this.durations.v1.render('merlin_request_duration_seconds', `${l},protocol="v1"`, lines);
    this.durations.v2.render('merlin_request_duration_seconds', `${l},protocol="v2"`, lines);
    lines.push(
      '# HELP merlin_inference_duration_seconds Model inference time (runtime only, without JSON parsing).',
      '# TYPE merlin_inference_duration_seconds histogram',
    );
    this.inferences.render('merlin_inference_duration_seconds', l, lines);
    if (this.batching) {
      lines.push(
        '# HELP merlin_batch_size Rows per call of the model (adaptive batching).',
        '# TYPE merlin_batch_size histogram',
      );
      this.batchRows.render('merlin_batch_size', l, lines);
      lines.push(
        '# HELP merlin_batch_requests Requests merged per call of the model (adaptive batching).',
        '# TYPE merlin_batch_requests histogram',
      );
      this.batchRequests.render('merlin_batch_requests', l, lines);
    }
    return `${lines.join('\n')}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
