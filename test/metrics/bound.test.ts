// Bound counters and histograms: what they record is what prom-client's registry exposes, in Prometheus text.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundCounter, BoundHistogram } from '../../src/metrics/bound.js';

describe('bound metrics', () => {
  it('a counter exposes one series per label combination', async () => {
    const registry = new Registry();
    const counter = new BoundCounter({
      name: 'x_total',
      help: 'Things.',
      labelNames: ['result', 'transport'],
      registers: [registry],
    });
    const allowHttp = counter.labels('allow', 'http');
    allowHttp.inc();
    allowHttp.inc();
    counter.labels('deny', 'grpc').inc(5);
    counter.inc({ result: 'allow', transport: 'http' });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE x_total counter');
    expect(text).toContain('x_total{result="allow",transport="http"} 3');
    expect(text).toContain('x_total{result="deny",transport="grpc"} 5');
  });

  it('a histogram exposes cumulative buckets, +Inf, sum and count, and ignores non-finite values', async () => {
    const registry = new Registry();
    const histogram = new BoundHistogram({
      name: 'd_seconds',
      help: 'Durations.',
      labelNames: ['layer'],
      buckets: [0.5, 0.1, 1],
      registers: [registry],
    });
    const base = histogram.labels('base');
    for (const v of [0.05, 0.1, 0.2, 0.7, 3, Number.NaN, Number.POSITIVE_INFINITY]) base.observe(v);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE d_seconds histogram');
    expect(text).toContain('d_seconds_bucket{le="0.1",layer="base"} 2');
    expect(text).toContain('d_seconds_bucket{le="0.5",layer="base"} 3');
    expect(text).toContain('d_seconds_bucket{le="1",layer="base"} 4');
    expect(text).toContain('d_seconds_bucket{le="+Inf",layer="base"} 5');
    expect(text).toContain('d_seconds_count{layer="base"} 5');
    expect(text).toMatch(/d_seconds_sum\{layer="base"\} 4\.05\d*/);
  });
});
