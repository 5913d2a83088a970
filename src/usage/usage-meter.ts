/**
 * Usage by provider and model, per session and per turn, from the request reports that reach
 * the core (each provider request counted once: the listener dropped the framework's repeats).
 * Not from `session_usage_updated`, which counts a non-streaming TTS twice (docs/PROVIDERS.md).
 */
import type { UsageComponent, UsageField } from '../catalog/index.js';
import type { Signal } from '../ingest/signals.js';
import type { Usage, UsageEntry, UsageEvent } from '../types.js';
import type { PriceBook } from './prices.js';

/** Provider/model pairs kept per table; past it they add up under `other`. */
const MAX_ENTRIES = 64;
/** Turns whose usage is kept while they are open: far more than run at once. */
const MAX_OPEN_TURNS = 64;
const OTHER = 'other';

/** Usage entries by component, provider and model. */
class UsageTable {
  private readonly entries = new Map<string, UsageEntry>();

  add(event: UsageEvent): void {
    let key = `${event.component}\u0000${event.provider}\u0000${event.model}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const folded = this.entries.size >= MAX_ENTRIES - 1;
      if (folded) key = `${event.component}\u0000${OTHER}\u0000${OTHER}`;
      entry = this.entries.get(key);
      if (!entry) {
        entry = {
          component: event.component,
          provider: folded ? OTHER : event.provider,
          model: folded ? OTHER : event.model,
          amounts: {},
        };
        this.entries.set(key, entry);
      }
    }
    for (const [field, amount] of Object.entries(event.amounts) as [UsageField, number][]) {
      entry.amounts[field] = (entry.amounts[field] ?? 0) + amount;
    }
    if (event.cost) entry.cost = (entry.cost ?? 0) + event.cost.amount;
  }

  merge(other: UsageTable): void {
    for (const e of other.entries.values()) {
      const { component, provider, model, cost, amounts } = e;
      this.add({
        component,
        provider,
        model,
        amounts,
        ...(cost !== undefined ? { cost: { currency: '', amount: cost } } : {}),
      });
    }
  }

  get empty(): boolean {
    return this.entries.size === 0;
  }

  snapshot(currency: string | undefined): Usage {
    const entries = [...this.entries.values()].map((e) => ({ ...e, amounts: { ...e.amounts } }));
    if (currency === undefined) return { entries };
    return { entries, currency, cost: entries.reduce((sum, e) => sum + (e.cost ?? 0), 0) };
  }
}

export class UsageMeter {
  private readonly session = new UsageTable();
  private readonly turns = new Map<string, UsageTable>();
  /** Usage reported without a turn (a transcription), for the next turn that ends. */
  private unassigned = new UsageTable();
  /** Speeches that were never turns (discarded preemptive generations): their usage, billed all
   * the same, goes to the next turn that ends, as usage reported without a turn does. */
  private readonly discarded = new Set<string>();

  constructor(
    private readonly prices: PriceBook | undefined,
    private readonly out: (event: UsageEvent) => void,
  ) {}

  handle(signal: Signal): void {
    if (
      (signal.kind !== 'stt_request' &&
        signal.kind !== 'llm_request' &&
        signal.kind !== 'tts_request') ||
      !signal.usage
    ) {
      return;
    }
    const component: UsageComponent = signal.usage.component;
    const amount = this.prices?.cost(
      component,
      signal.provider,
      signal.model,
      signal.usage.amounts,
    );
    const event: UsageEvent = {
      component,
      provider: signal.provider,
      model: signal.model,
      amounts: { ...signal.usage.amounts },
      ...(amount !== undefined ? { cost: { currency: this.prices!.currency, amount } } : {}),
    };
    this.session.add(event);
    const speechId = signal.kind === 'stt_request' ? undefined : signal.speechId;
    this.tableFor(speechId).add(event);
    this.out(event);
  }

  /** The usage of the turn that ended (with what was reported without a turn), once. */
  takeTurn(id: string): Usage | undefined {
    const table = this.unassigned;
    this.unassigned = new UsageTable();
    const own = this.turns.get(id);
    this.turns.delete(id);
    if (own) table.merge(own);
    return table.empty ? undefined : table.snapshot(this.prices?.currency);
  }

  /** `id` was never a turn: what it used (so far, and reported late) goes with the next turn. */
  discardTurn(id: string): void {
    this.discarded.add(id);
    if (this.discarded.size > MAX_OPEN_TURNS) {
      this.discarded.delete(this.discarded.values().next().value!);
    }
    const own = this.turns.get(id);
    this.turns.delete(id);
    if (own) this.unassigned.merge(own);
  }

  summary(): Usage {
    return this.session.snapshot(this.prices?.currency);
  }

  private tableFor(speechId: string | undefined): UsageTable {
    if (speechId === undefined || this.discarded.has(speechId)) return this.unassigned;
    let table = this.turns.get(speechId);
    if (!table) {
      // a report for a turn that never ends (or ended before it came) is not kept forever
      if (this.turns.size >= MAX_OPEN_TURNS) this.turns.delete(this.turns.keys().next().value!);
      this.turns.set(speechId, (table = new UsageTable()));
    }
    return table;
  }
}
