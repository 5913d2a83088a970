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
import { ConfigCheck, MetricsConfigError, readList, readRecord } from '../errors.js';

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

/** Validates `prices` (every problem at once, the first 20 listed) into a {@link PriceBook}.
 * Reads each value once, through the guards of `errors.ts`: whatever the table holds (keys such
 * as `__proto__`, getters, Proxies, a million fields), it returns or throws a MetricsConfigError. */
export function resolvePrices(value: unknown): PriceBook | undefined {
  if (value === undefined) return undefined;
  const table = readRecord(value, 'prices');
  if (!table) throw new MetricsConfigError('prices', 'expected { currency, models: [...] }');
  const check = new ConfigCheck();
  const currency = table.get('currency');
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) {
    check.problem('prices.currency', 'expected a currency code such as "USD" (letters, digits, _)');
  }
  const models = check.take(() => readList(table.get('models'), 'prices.models', MAX_MODELS), {
    items: [],
    length: 0,
  });
  if (!models || models.length === 0 || models.length > MAX_MODELS) {
    check.problem('prices.models', `expected a list of 1 to ${MAX_MODELS} model prices`);
  }
  const valid: ModelPrice[] = [];
  const seen = new Set<string>();
  models?.items.forEach((entry, i) => {
    const before = check.count;
    const price = check.take(() => modelPrice(entry, `prices.models[${i}]`, check), undefined);
    if (!price || check.count !== before) return;
    const key = `${price.component}/${price.provider ?? ''}/${price.model}`;
    if (seen.has(key)) {
      check.problem(`prices.models[${i}]`, `a second price for ${key.replace('//', '/')}`);
    }
    seen.add(key);
    valid.push(price);
  });
  check.done();
  return new PriceBook(currency as string, valid);
}

/** One entry of `models`, its problems recorded in `check`; undefined when it has any. */
function modelPrice(entry: unknown, at: string, check: ConfigCheck): ModelPrice | undefined {
  const e = readRecord(entry, at);
  if (!e) {
    check.problem(at, 'expected an object with component, model and prices');
    return undefined;
  }
  const before = check.count;
  const component = e.get('component');
  // An own key of PRICE_FIELDS only: `constructor` or `__proto__` is not a component.
  const allowed =
    typeof component === 'string' && Object.hasOwn(PRICE_FIELDS, component)
      ? PRICE_FIELDS[component as UsageComponent]
      : undefined;
  if (!allowed) check.problem(`${at}.component`, 'expected one of llm, realtime, tts, stt');
  const name = (field: 'model' | 'provider') => {
    const v = e.get(field);
    if (v === undefined && field === 'provider') return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > 128) {
      check.problem(`${at}.${field}`, 'expected a non-empty string of at most 128 characters');
      return undefined;
    }
    return v;
  };
  const model = name('model');
  const provider = name('provider');
  const prices: Partial<Record<PriceField, number>> = {};
  let count = 0;
  for (const [key, v] of e) {
    if (key === 'component' || key === 'model' || key === 'provider') continue;
    if (!ALL_PRICE_FIELDS.has(key as PriceField)) {
      check.problem(`${at}.${key}`, 'unknown field');
      continue;
    }
    if (!allowed?.includes(key as PriceField)) {
      check.problem(
        `${at}.${key}`,
        allowed
          ? `does not price a ${String(component)}; use ${allowed.join(', ')}`
          : 'prices no known component',
      );
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_PRICE) {
      check.problem(`${at}.${key}`, `expected a price from 0 to ${MAX_PRICE}`);
      continue;
    }
    prices[key as PriceField] = v;
    count += 1;
  }
  if (e.get('perThousandCharacters') !== undefined && e.get('perAudioMinute') !== undefined) {
    check.problem(at, 'a TTS is billed by characters or by audio minutes: give one of the two');
  }
  if (count === 0 && check.count === before) {
    check.problem(at, `no price given; use ${(allowed ?? []).join(', ')}`);
  }
  if (check.count !== before || !allowed || model === undefined) return undefined;
  return {
    component: component as UsageComponent,
    ...(provider === undefined ? {} : { provider }),
    model,
    ...prices,
  };
}
