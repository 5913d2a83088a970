/**
 * The optional price table of `attachMetrics(session, { prices })`: validated once at attach,
 * then used to price each provider request's usage. No prices are shipped: providers change
 * them, and only the user knows their contract.
 */
import {
  type PriceField,
  USAGE_CATALOG,
  type UsageComponent,
  type UsageField,
} from '../catalog/index.js';
import { type ConfigProblem, MetricsConfigError } from '../errors.js';

/** The price of one provider's model (or of every model, with `model: '*'`). */
export interface ModelPrice {
  /** Who bills it: `llm`, `realtime` (a speech-to-speech model), `tts` or `stt`. */
  component: UsageComponent;
  /** The provider as the framework reports it (e.g. `api.openai.com`); any when absent. */
  provider?: string;
  /** The model as the framework reports it (e.g. `gpt-4o-mini`), or `'*'` for any model. */
  model: string;
  /** Per 1M input (prompt) tokens; for `realtime`, text and image input. */
  inputPerMillionTokens?: number;
  /** Per 1M cached prompt tokens (`llm`); they cost the input price when absent. */
  cachedInputPerMillionTokens?: number;
  /** Per 1M output (completion) tokens; for `realtime`, text output. */
  outputPerMillionTokens?: number;
  /** Per 1M audio input tokens (`realtime`). */
  inputAudioPerMillionTokens?: number;
  /** Per 1M audio output tokens (`realtime`). */
  outputAudioPerMillionTokens?: number;
  /** Per 1,000 characters synthesized (`tts`). */
  perThousandCharacters?: number;
  /** Per minute of audio transcribed (`stt`) or synthesized (`tts`). */
  perAudioMinute?: number;
}

/** A price table: what each provider request costs, in `currency`. */
export interface PriceTable {
  /** The currency's code, a Prometheus label value (e.g. `USD`). */
  currency: string;
  models: ModelPrice[];
}

const PRICE_FIELDS: Record<UsageComponent, readonly PriceField[]> = {
  llm: ['inputPerMillionTokens', 'cachedInputPerMillionTokens', 'outputPerMillionTokens'],
  realtime: [
    'inputPerMillionTokens',
    'outputPerMillionTokens',
    'inputAudioPerMillionTokens',
    'outputAudioPerMillionTokens',
  ],
  tts: ['perThousandCharacters', 'perAudioMinute'],
  stt: ['perAudioMinute'],
};
const ALL_PRICE_FIELDS = new Set(Object.values(PRICE_FIELDS).flat());
const MAX_MODELS = 256;
const MAX_PRICE = 1e6;
const CURRENCY = /^[A-Za-z][A-Za-z0-9_]{0,15}$/;

/** A validated price table, looked up per provider and model. */
export class PriceBook {
  private readonly cache = new Map<string, ModelPrice | null>();

  constructor(
    readonly currency: string,
    private readonly models: readonly ModelPrice[],
  ) {}

  /** The most specific entry: provider and model, model, provider and `*`, then `*`. */
  priceFor(component: UsageComponent, provider: string, model: string): ModelPrice | undefined {
    const key = `${component}\u0000${provider}\u0000${model}`;
    let found = this.cache.get(key);
    if (found === undefined) {
      const rank = (p: ModelPrice) =>
        p.component !== component ||
        (p.provider !== undefined && p.provider !== provider) ||
        (p.model !== '*' && p.model !== model)
          ? -1
          : (p.model === model ? 2 : 0) + (p.provider !== undefined ? 1 : 0);
      let best: ModelPrice | null = null;
      let bestRank = -1;
      for (const p of this.models) {
        const r = rank(p);
        if (r > bestRank) [best, bestRank] = [p, r];
      }
      found = best;
      if (this.cache.size < 1_000) this.cache.set(key, found);
    }
    return found ?? undefined;
  }

  /** What these amounts cost, or undefined when no entry prices this provider and model. A
   * quantity whose price the entry leaves out costs nothing. */
  cost(
    component: UsageComponent,
    provider: string,
    model: string,
    amounts: Partial<Record<UsageField, number>>,
  ): number | undefined {
    const price = this.priceFor(component, provider, model);
    return price && costOf(price, amounts);
  }
}

/** The cost of `amounts` at `price`. An LLM's cached prompt tokens are part of its prompt
 * tokens: they are billed at the cached price (the input price when there is none), the rest at
 * the input price. A realtime model's cached tokens are not discounted (they are a part of its
 * text and audio input, which are priced apart). */
export function costOf(price: ModelPrice, amounts: Partial<Record<UsageField, number>>): number {
  let total = 0;
  for (const [field, amount] of Object.entries(amounts) as [UsageField, number][]) {
    const def = USAGE_CATALOG[field];
    let units = amount;
    let perUnit = price[def.price];
    if (field === 'promptTokens') units = Math.max(0, amount - (amounts.promptCachedTokens ?? 0));
    else if (field === 'promptCachedTokens') {
      units = Math.min(amount, amounts.promptTokens ?? amount);
      perUnit = price.cachedInputPerMillionTokens ?? price.inputPerMillionTokens;
    } else if (field === 'inputCachedTokens') continue;
    if (perUnit !== undefined) total += (units * perUnit) / def.per;
  }
  return total;
}

/** Validates `prices` (every problem at once) into a {@link PriceBook}. */
export function resolvePrices(value: unknown): PriceBook | undefined {
  if (value === undefined) return undefined;
  const problems: ConfigProblem[] = [];
  const problem = (option: string, message: string) => problems.push({ option, message });
  const table = (typeof value === 'object' && value !== null ? value : {}) as Record<
    string,
    unknown
  >;
  if (typeof value !== 'object' || value === null) {
    throw new MetricsConfigError('prices', 'expected { currency, models: [...] }');
  }
  const currency = table.currency;
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) {
    problem('prices.currency', 'expected a currency code such as "USD" (letters, digits, _)');
  }
  const models = table.models;
  if (!Array.isArray(models) || models.length === 0 || models.length > MAX_MODELS) {
    problem('prices.models', `expected a list of 1 to ${MAX_MODELS} model prices`);
  }
  const valid: ModelPrice[] = [];
  const seen = new Set<string>();
  (Array.isArray(models) ? models.slice(0, MAX_MODELS) : []).forEach((entry: unknown, i) => {
    const at = `prices.models[${i}]`;
    if (typeof entry !== 'object' || entry === null) {
      problem(at, 'expected an object with component, model and prices');
      return;
    }
    const e = entry as Record<string, unknown>;
    const before = problems.length;
    const component = e.component as UsageComponent;
    if (typeof component !== 'string' || !Object.hasOwn(PRICE_FIELDS, component)) {
      problem(`${at}.component`, 'expected one of llm, realtime, tts, stt');
    }
    const name = (field: string) => {
      const v = e[field];
      if (v === undefined && field === 'provider') return;
      if (typeof v !== 'string' || v.length === 0 || v.length > 128) {
        problem(`${at}.${field}`, 'expected a non-empty string of at most 128 characters');
      }
    };
    name('model');
    name('provider');
    const allowed = PRICE_FIELDS[component] ?? [];
    let prices = 0;
    for (const key of Object.keys(e)) {
      if (key === 'component' || key === 'model' || key === 'provider') continue;
      if (!ALL_PRICE_FIELDS.has(key as PriceField)) {
        problem(`${at}.${key}`, 'unknown field');
        continue;
      }
      if (!allowed.includes(key as PriceField)) {
        problem(`${at}.${key}`, `does not price a ${String(component)}; use ${allowed.join(', ')}`);
        continue;
      }
      const v = e[key];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_PRICE) {
        problem(`${at}.${key}`, `expected a price from 0 to ${MAX_PRICE}`);
        continue;
      }
      prices += 1;
    }
    if (e.perThousandCharacters !== undefined && e.perAudioMinute !== undefined) {
      problem(at, 'a TTS is billed by characters or by audio minutes: give one of the two');
    }
    if (prices === 0 && problems.length === before) {
      problem(at, `no price given; use ${allowed.join(', ')}`);
    }
    const key = `${String(component)}/${String(e.provider ?? '')}/${String(e.model)}`;
    if (problems.length === before && seen.has(key)) {
      problem(at, `a second price for ${key.replace('//', '/')}`);
    }
    seen.add(key);
    if (problems.length === before) valid.push({ ...(e as unknown as ModelPrice) });
  });
  const [first, ...more] = problems;
  if (first) throw new MetricsConfigError(first.option, first.message, more);
  return new PriceBook(currency as string, valid);
}
