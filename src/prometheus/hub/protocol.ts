import * as v from 'valibot';
import { LABEL_NAME, RESERVED_LABELS } from '../../catalog/label-names.js';
import { type BucketLayout, FAMILIES, type FamilyKey } from '../metric-families.js';
import type { FAMILY_CATALOG, StatName } from '../../catalog/index.js';
import type { Exemplar, HistogramSeries, ScalarSeries } from '../series-store.js';

/** Environment variable through which a worker's main process tells its job processes where the
 * hub is (the framework forks job processes with the parent's environment). */
export const HUB_ENV = 'LIVEKIT_AGENTS_METRICS_HUB';

/**
 * What one frame may hold. Every frame comes from a local socket any process of the worker's
 * user can reach, so it is hostile until this schema accepted it. The job-side client keeps to
 * the same limits (it cuts label values and splits deltas), so its frames always pass.
 */
export const HUB_LIMITS = {
  /** Newline-delimited JSON frames larger than this are refused and the connection cut. */
  maxFrameBytes: 1024 * 1024,
  /** Label values are cut to this many characters (as on the data channel), not refused. */
  maxLabelValueLength: 128,
  /** Labels of one series: the family's own and the session's constant labels. */
  maxLabelsPerSeries: 32,
  /** Series of one family in one frame (the series cap of a job's store). */
  maxSeriesPerFamily: 5_000,
  /** A job's id (the client sends a UUID). */
  maxJobIdLength: 64,
  /** Sessions one job process may report open at once (a job is one room; the client reports
   * at most this many), so fake jobs cannot inflate the gauge past 256 × 100. */
  maxSessionsPerJob: 100,
  /** Bucket boundaries of one layout. */
  maxBuckets: 64,
  /** Characters of an exemplar's trace id (OpenTelemetry's are 32). */
  maxTraceIdLength: 64,
} as const;

/** Counts and values: finite, non-negative, and small enough that adding never overflows. */
const MAX_VALUE = Number.MAX_SAFE_INTEGER;

/** Cuts a label value to {@link HUB_LIMITS.maxLabelValueLength} characters (code points), ending
 * it with `…` when it was cut, and replaces lone surrogates, which UTF-8 cannot encode. */
export function capLabelValue(value: string): string {
  const max = HUB_LIMITS.maxLabelValueLength;
  let out = value;
  if (out.length > max) {
    const points = Array.from(out.slice(0, 2 * max));
    if (points.length > max) out = `${points.slice(0, max - 1).join('')}…`;
  }
  return out.replace(LONE_SURROGATE, '\uFFFD');
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const FiniteSchema = v.pipe(v.number(), v.finite(), v.minValue(-MAX_VALUE), v.maxValue(MAX_VALUE));
const CountSchema = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const CounterValueSchema = v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(MAX_VALUE));
const BoundsSchema = v.pipe(
  v.array(FiniteSchema),
  v.maxLength(HUB_LIMITS.maxBuckets),
  v.readonly(),
);
const LayoutSchema = v.object({ latency: BoundsSchema, throughput: BoundsSchema });

const LabelNameSchema = v.pipe(
  v.string(),
  v.regex(LABEL_NAME),
  v.check((name) => !name.startsWith('__')),
);
const LabelValueSchema = v.pipe(v.string(), v.transform(capLabelValue));

/** A plain object of at most maxLabelsPerSeries entries, without the keys valibot's record
 * skips (`constructor`, `prototype`): a series must not lose a label silently. */
const isLabelObject = (input: unknown): input is Record<string, unknown> => {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return false;
  const keys = Object.keys(input);
  return (
    keys.length <= HUB_LIMITS.maxLabelsPerSeries &&
    !keys.includes('constructor') &&
    !keys.includes('prototype')
  );
};

/** A family's label set: each of its own labels, plus constant labels that Prometheus and the
 * exporter leave free (as attach options validate them). */
function labelsSchema(own: readonly string[]) {
  return v.pipe(
    v.custom<Record<string, unknown>>(isLabelObject),
    v.record(LabelNameSchema, LabelValueSchema),
    v.check((labels) => own.every((name) => Object.hasOwn(labels, name))),
    v.check((labels) =>
      Object.keys(labels).every((name) => own.includes(name) || !RESERVED_LABELS.includes(name)),
    ),
  );
}

const ExemplarSchema = v.object({
  traceId: v.pipe(v.string(), v.minLength(1), v.maxLength(HUB_LIMITS.maxTraceIdLength)),
  value: FiniteSchema,
  at: v.pipe(v.number(), v.finite(), v.minValue(0)),
}) satisfies v.GenericSchema<unknown, Exemplar>;

function histogramSchema(family: FamilyKey, buckets: number) {
  return v.pipe(
    v.object({
      labels: labelsSchema(FAMILIES[family].labelNames),
      counts: v.pipe(v.array(CountSchema), v.length(buckets)),
      sum: FiniteSchema,
      count: CountSchema,
      exemplars: v.optional(v.pipe(v.array(v.nullable(ExemplarSchema)), v.length(buckets))),
    }),
    // what the exposition derives _bucket{le="+Inf"} from must equal _count
    v.check((h) => h.counts.reduce((a, c) => a + c, 0) === h.count),
  ) satisfies v.GenericSchema<unknown, HistogramSeries>;
}

function counterSchema(family: FamilyKey) {
  return v.object({
    labels: labelsSchema(FAMILIES[family].labelNames),
    value: CounterValueSchema,
  }) satisfies v.GenericSchema<unknown, ScalarSeries>;
}

/** Every stat of the catalog is a histogram family. */
type HistogramFamily = StatName;
/** Counters a job records; render_errors and scrape_refused are the metrics server's own. */
type CounterFamily = Exclude<
  {
    [K in keyof typeof FAMILY_CATALOG]: (typeof FAMILY_CATALOG)[K]['type'] extends 'counter'
      ? K
      : never;
  }[keyof typeof FAMILY_CATALOG],
  'render_errors' | 'scrape_refused'
>;
type SeriesList<T> = v.OptionalSchema<v.GenericSchema<unknown, T[]>, undefined>;

const familiesOf = (type: 'histogram' | 'counter') =>
  (Object.keys(FAMILIES) as FamilyKey[]).filter(
    (f) => FAMILIES[f].type === type && f !== 'render_errors' && f !== 'scrape_refused',
  );

/** A store snapshot in this layout: known families of the right type, each with its labels. */
export function snapshotSchema(layout: BucketLayout) {
  const list = <T>(series: v.GenericSchema<unknown, T>): SeriesList<T> =>
    v.optional(v.pipe(v.array(series), v.maxLength(HUB_LIMITS.maxSeriesPerFamily)));
  const histograms = Object.fromEntries(
    familiesOf('histogram').map((f) => {
      const bounds = 'buckets' in FAMILIES[f] && FAMILIES[f].buckets === 'throughput';
      const buckets = (bounds ? layout.throughput : layout.latency).length + 1;
      return [f, list(histogramSchema(f, buckets))];
    }),
  ) as { [K in HistogramFamily]: SeriesList<HistogramSeries> };
  const counters = Object.fromEntries(
    familiesOf('counter').map((f) => [f, list(counterSchema(f))]),
  ) as { [K in CounterFamily]: SeriesList<ScalarSeries> };
  return v.object({
    v: v.literal(1),
    layout: v.pipe(
      LayoutSchema,
      v.check((l) => sameBounds(l.latency, layout.latency)),
      v.check((l) => sameBounds(l.throughput, layout.throughput)),
    ),
    histograms: v.strictObject(histograms),
    counters: v.strictObject(counters),
  });
}

const sameBounds = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The fields of a delta frame around its contents. */
const ENVELOPE = {
  v: v.literal(1),
  type: v.literal('lkam:delta'),
  job: v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(HUB_LIMITS.maxJobIdLength),
    v.regex(/^[A-Za-z0-9_-]+$/),
  ),
  pid: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  seq: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  activeSessions: v.pipe(
    v.number(),
    v.safeInteger(),
    v.minValue(0),
    v.maxValue(HUB_LIMITS.maxSessionsPerJob),
  ),
  /** The job is done; the hub forgets its gauges without counting a lost connection. */
  final: v.optional(v.boolean()),
};

/**
 * A delta frame whose contents are not checked yet. The hub acknowledges a frame that passes
 * this even when its contents are refused: re-sending a malformed delta would not mend it.
 */
export const DeltaEnvelopeSchema = v.object({
  ...ENVELOPE,
  delta: v.looseObject({ v: v.literal(1) }),
});

/**
 * Job → hub. `delta` holds what the job recorded since its previous acknowledged message, so
 * the hub adds it once: a delta re-sent after a reconnect carries the same `seq` and is
 * acknowledged again without being added again. The schema depends on the worker's layout.
 */
export function deltaMessageSchema(layout: BucketLayout) {
  return v.object({ ...ENVELOPE, delta: snapshotSchema(layout) });
}
export type DeltaMessage = v.InferOutput<ReturnType<typeof deltaMessageSchema>>;

/**
 * One series of a family as a frame carries it under `kind`, checked on its own (the client
 * drops a series that would make the hub refuse its whole frame); undefined for a family a
 * frame may not carry there.
 */
export function seriesSchema(
  kind: 'histograms' | 'counters',
  family: string,
  layout: BucketLayout,
): v.GenericSchema<unknown, HistogramSeries | ScalarSeries> | undefined {
  if (!Object.hasOwn(FAMILIES, family)) return undefined;
  const key = family as FamilyKey;
  if (kind === 'counters')
    return familiesOf('counter').includes(key) ? counterSchema(key) : undefined;
  if (!familiesOf('histogram').includes(key)) return undefined;
  const def = FAMILIES[key];
  const bounds =
    'buckets' in def && def.buckets === 'throughput' ? layout.throughput : layout.latency;
  return histogramSchema(key, bounds.length + 1);
}

/** Hub → job. */
export const AckSchema = v.object({
  v: v.literal(1),
  type: v.literal('lkam:ack'),
  seq: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
});
export type AckMessage = v.InferOutput<typeof AckSchema>;

/** What the env variable holds. */
export const HubAddressSchema = v.object({
  v: v.literal(1),
  /** Unix socket path of the hub. */
  path: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
  /** Bucket layout every process must use, so their histograms can be summed. */
  layout: LayoutSchema,
  /** How often a job process sends what it recorded. */
  flushMs: v.optional(
    v.pipe(v.number(), v.safeInteger(), v.minValue(10), v.maxValue(60_000)),
    1_000,
  ),
});
export type HubAddress = v.InferOutput<typeof HubAddressSchema>;

export function parseHubAddress(raw: string | undefined): HubAddress | undefined {
  if (!raw) return undefined;
  try {
    const parsed = v.safeParse(HubAddressSchema, JSON.parse(raw));
    return parsed.success ? parsed.output : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where in a frame a schema refused it, for a log line: schema field names and family names,
 * never a value or a label name the peer chose.
 */
export function describeIssue(issues: readonly v.BaseIssue<unknown>[] | undefined): string {
  const issue = issues?.[0];
  if (!issue) return 'unknown';
  const path = (issue.path ?? [])
    .map((item) => {
      const key = item.key;
      if (typeof key === 'number') return String(key);
      if (typeof key === 'string' && (KNOWN_KEYS.has(key) || key in FAMILIES)) return key;
      return '?';
    })
    .join('.');
  return `${issue.kind} ${issue.type} at ${path || '(frame)'}`;
}
const KNOWN_KEYS = new Set([
  ...Object.keys(ENVELOPE),
  'delta',
  'layout',
  'latency',
  'throughput',
  'histograms',
  'counters',
  'labels',
  'counts',
  'sum',
  'count',
  'value',
  'exemplars',
  'traceId',
  'at',
]);
