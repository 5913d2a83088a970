/** One sample line of the Prometheus text exposition format. */
export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;

/**
 * Parses the text format (version 0.0.4) into samples: independent of prom-client, so the
 * tests read /metrics the way a scraper does. Throws on a line it cannot read.
 */
export function parseExposition(text: string): ExpositionSample[] {
  const samples: ExpositionSample[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    let consumed = 0;
    let l: RegExpExecArray | null;
    while ((l = LABEL.exec(body))) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      consumed = LABEL.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`unparseable labels: ${line}`);
    samples.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  return samples;
}

function parseValue(raw: string): number {
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  const v = Number(raw);
  if (raw !== 'NaN' && Number.isNaN(v)) throw new Error(`bad sample value ${raw}`);
  return v;
}

/** Sum of the samples named `name` whose labels include every pair of `match`. */
export function sumOf(
  samples: readonly ExpositionSample[],
  name: string,
  match: Record<string, string> = {},
): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** A series' identity: its name and labels in a stable order. */
export function seriesId(s: ExpositionSample): string {
  const labels = Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
    .join(',');
  return `${s.name}{${labels}}`;
}

/** Counter-like samples: they must never decrease while the process that serves them lives. */
export function isCumulative(name: string): boolean {
  return /_(total|bucket|count|sum)$/.test(name);
}
