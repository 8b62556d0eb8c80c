import { describe, expect, it } from 'vitest';
import { Histogram, Metrics } from '../../../serving/metrics.js';

/** Samples of a Prometheus text: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

const L = 'model="iris",version="3"';

describe('Metrics', () => {
  it('should count requests by protocol and status, keeping the code label', () => {
    const m = new Metrics('iris', '3', () => true);
    m.request('v1', 200);
    m.request('v1', 200);
    m.request('v2', 400);
    m.request('v2', 504);
    const s = samples(m.render());
    expect(s.get(`merlin_requests_total{${L},protocol="v1",code="200",status="200"}`)).toBe(2);
    expect(s.get(`merlin_requests_total{${L},protocol="v2",code="400",status="400"}`)).toBe(1);
    expect(s.get(`merlin_requests_total{${L},protocol="v2",code="504",status="504"}`)).toBe(1);
    expect(s.get(`merlin_model_ready{${L}}`)).toBe(1);
  });

  it('should render cumulative histograms of request latency and inference time', () => {
    const m = new Metrics('iris', '3', () => false);
    m.requestDuration('v2', 0.0007);
    m.requestDuration('v2', 0.02);
    m.requestDuration('v2', 30);
    m.inference(0.003);
    const s = samples(m.render());
    const d = (le: string) => s.get(`merlin_request_duration_seconds_bucket{${L},protocol="v2",le="${le}"}`);
    expect(d('0.0005')).toBe(0);
    expect(d('0.001')).toBe(1);
    expect(d('0.025')).toBe(2);
    expect(d('10')).toBe(2);
    expect(d('+Inf')).toBe(3);
    expect(s.get(`merlin_request_duration_seconds_count{${L},protocol="v2"}`)).toBe(3);
    expect(s.get(`merlin_request_duration_seconds_sum{${L},protocol="v2"}`)).toBeCloseTo(30.0207, 6);
    expect(s.get(`merlin_request_duration_seconds_count{${L},protocol="v1"}`)).toBe(0);
    expect(s.get(`merlin_inference_duration_seconds_bucket{${L},le="0.005"}`)).toBe(1);
    expect(s.get(`merlin_inference_duration_seconds_count{${L}}`)).toBe(1);
    expect(s.get(`merlin_model_ready{${L}}`)).toBe(0);
  });

  it('should render the batch histograms only with batching on', () => {
    const m = new Metrics('iris', '3', () => true);
    expect(m.render()).not.toContain('merlin_batch_size');
    m.batching = true;
    m.batch(32, 8);
    m.batch(1, 1);
    const s = samples(m.render());
    expect(s.get(`merlin_batch_size_bucket{${L},le="1"}`)).toBe(1);
    expect(s.get(`merlin_batch_size_bucket{${L},le="16"}`)).toBe(1);
    expect(s.get(`merlin_batch_size_bucket{${L},le="32"}`)).toBe(2);
    expect(s.get(`merlin_batch_size_sum{${L}}`)).toBe(33);
    expect(s.get(`merlin_batch_requests_bucket{${L},le="8"}`)).toBe(2);
    expect(s.get(`merlin_batch_requests_count{${L}}`)).toBe(2);
  });

  it('should escape label values and declare every metric once', () => {
    const m = new Metrics('a"b\\c', '1\n2', () => true);
    m.batching = true;
    const text = m.render();
    expect(text).toContain('merlin_model_ready{model="a\\"b\\\\c",version="1\\n2"} 1');
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
    expect(types.map((t) => t.split(' ')[2])).toEqual([
      'merlin_model_ready',
      'merlin_inference_requests_in_flight',
      'merlin_requests_total',
      'merlin_request_duration_seconds',
      'merlin_inference_duration_seconds',
      'merlin_batch_size',
      'merlin_batch_requests',
    ]);
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('Histogram', () => {
  it('should count a value equal to a bound in that bucket', () => {
    const h = new Histogram([1, 2]);
    h.observe(1);
    h.observe(2);
    h.observe(3);
    const lines: string[] = [];
    h.render('x', 'a="b"', lines);
    expect(lines).toEqual([
      'x_bucket{a="b",le="1"} 1',
      'x_bucket{a="b",le="2"} 2',
      'x_bucket{a="b",le="+Inf"} 3',
      'x_sum{a="b"} 6',
      'x_count{a="b"} 3',
    ]);
  });
});
