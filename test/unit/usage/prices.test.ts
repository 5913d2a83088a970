import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveOptions } from '../../../src/config.js';
import { MetricsConfigError } from '../../../src/errors.js';
import { createMetricsRuntime } from '../../../src/runtime.js';
import { costOf, resolvePrices } from '../../../src/usage/prices.js';

const close = (actual: number | undefined, expected: number) =>
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) < 1e-12,
    `${actual} vs ${expected}`,
  );

describe('price table', () => {
  it('bills an LLM’s cached prompt tokens at the cached price and the rest at the input price', () => {
    const price = {
      component: 'llm' as const,
      model: 'm',
      inputPerMillionTokens: 2,
      cachedInputPerMillionTokens: 0.5,
      outputPerMillionTokens: 8,
    };
    // 1000 prompt tokens of which 400 cached, 200 completion
    close(
      costOf(price, { promptTokens: 1000, promptCachedTokens: 400, completionTokens: 200 }),
      (600 * 2 + 400 * 0.5 + 200 * 8) / 1e6,
    );
    // without a cached price, cached tokens cost the input price
    const noCached = { ...price, cachedInputPerMillionTokens: undefined };
    close(costOf(noCached, { promptTokens: 1000, promptCachedTokens: 400 }), (1000 * 2) / 1e6);
  });

  it('bills TTS characters per 1,000 and audio per minute, STT audio per minute', () => {
    close(
      costOf(
        { component: 'tts', model: 'tts-1', perThousandCharacters: 0.015 },
        { ttsCharacters: 2500, ttsAudioMs: 90_000 },
      ),
      2.5 * 0.015,
    );
    close(
      costOf(
        { component: 'tts', model: 'x', perAudioMinute: 0.3 },
        { ttsCharacters: 2500, ttsAudioMs: 90_000 },
      ),
      1.5 * 0.3,
    );
    close(
      costOf(
        { component: 'stt', model: 'whisper-1', perAudioMinute: 0.006 },
        { sttAudioMs: 30_000 },
      ),
      0.003,
    );
  });

  it('bills realtime tokens by modality, cached ones not discounted', () => {
    close(
      costOf(
        {
          component: 'realtime',
          model: 'rt',
          inputPerMillionTokens: 5,
          inputAudioPerMillionTokens: 40,
          outputPerMillionTokens: 20,
          outputAudioPerMillionTokens: 80,
        },
        {
          inputTextTokens: 100,
          inputAudioTokens: 1000,
          inputCachedTokens: 50,
          outputTextTokens: 10,
          outputAudioTokens: 500,
        },
      ),
      (100 * 5 + 1000 * 40 + 10 * 20 + 500 * 80) / 1e6,
    );
  });

  it('finds the most specific entry: provider and model, then model, then provider, then *', () => {
    const book = resolvePrices({
      currency: 'EUR',
      models: [
        { component: 'llm', model: '*', inputPerMillionTokens: 1 },
        { component: 'llm', provider: 'a', model: '*', inputPerMillionTokens: 2 },
        { component: 'llm', model: 'm', inputPerMillionTokens: 3 },
        { component: 'llm', provider: 'a', model: 'm', inputPerMillionTokens: 4 },
      ],
    })!;
    const input = (provider: string, model: string) =>
      book.priceFor('llm', provider, model)?.inputPerMillionTokens;
    assert.deepEqual(
      [input('a', 'm'), input('b', 'm'), input('a', 'z'), input('b', 'z')],
      [4, 3, 2, 1],
    );
    assert.equal(book.priceFor('tts', 'a', 'm'), undefined);
    assert.equal(book.cost('tts', 'a', 'm', { ttsCharacters: 10 }), undefined);
    assert.equal(book.currency, 'EUR');
  });

  it('reports every problem of a price table at once, each with its path', () => {
    try {
      resolvePrices({
        currency: 'US dollars',
        models: [
          { component: 'llm', model: 'm', perThousandCharacters: 1 },
          { component: 'tts', model: '', perThousandCharacters: -1 },
          { component: 'video', model: 'x', inputPerMillionTokens: 1 },
          { component: 'stt', model: 'w' },
          { component: 'stt', model: 'w2', perAudioMinute: 0.1, discount: 3 },
          { component: 'stt', model: 'w3', perAudioMinute: 0.1 },
          { component: 'stt', model: 'w3', perAudioMinute: 0.2 },
          { component: 'tts', model: 't', perAudioMinute: 0.2, perThousandCharacters: 0.1 },
        ],
      });
      assert.fail('expected a MetricsConfigError');
    } catch (error) {
      assert.ok(error instanceof MetricsConfigError);
      assert.deepEqual(
        error.problems.map((p) => p.option),
        [
          'prices.currency',
          'prices.models[0].perThousandCharacters',
          'prices.models[1].model',
          'prices.models[1].perThousandCharacters',
          'prices.models[2].component',
          'prices.models[2].inputPerMillionTokens',
          'prices.models[3]',
          'prices.models[4].discount',
          'prices.models[6]',
          'prices.models[7]',
        ],
      );
    }
    assert.throws(() => resolvePrices({ currency: 'USD', models: [] }), /prices\.models/);
    assert.throws(() => resolvePrices('cheap'), /prices/);
    assert.equal(resolvePrices(undefined), undefined);
  });
});

describe('price table: hostile input', () => {
  const problemOf = (table: unknown) => {
    try {
      resolvePrices(table);
    } catch (error) {
      assert.ok(error instanceof MetricsConfigError, `not a MetricsConfigError: ${String(error)}`);
      return error;
    }
    return assert.fail('expected a MetricsConfigError');
  };

  it('reports a component named __proto__, constructor or prototype as a bad component', () => {
    for (const component of ['__proto__', 'constructor', 'prototype', 'toString']) {
      const error = problemOf({
        currency: 'USD',
        models: [{ component, model: 'm', inputPerMillionTokens: 1 }],
      });
      assert.equal(error.problems[0]?.option, 'prices.models[0].component', component);
    }
    // JSON.parse makes `__proto__` an own key, as a price table read from a file would have it
    const parsed = JSON.parse(
      '{"currency":"USD","models":[{"component":"__proto__","model":"m","__proto__":{"x":1}}]}',
    );
    assert.deepEqual(
      problemOf(parsed).problems.map((p) => p.option),
      ['prices.models[0].component', 'prices.models[0].__proto__'],
    );
  });

  it('lists the first 20 of 200,000 bad fields and counts the rest, also through resolveOptions', () => {
    const entry: Record<string, unknown> = { component: 'llm', model: 'm' };
    for (let i = 0; i < 200_000; i++) entry[`x${i}`] = 1;
    const prices = { currency: 'USD', models: [entry] };
    const direct = problemOf(prices);
    assert.equal(direct.problems.length, 20);
    assert.equal(direct.problemCount, 200_000);
    assert.match(direct.message, /\n {2}… and 199980 more$/);
    assert.ok(direct.message.length < 5_000, `${direct.message.length} characters`);
    assert.throws(
      () =>
        resolveOptions({ prices: prices as never, runtime: createMetricsRuntime({ hub: false }) }),
      (error) =>
        error instanceof MetricsConfigError &&
        error.problemCount === 200_000 &&
        error.problems.length === 20,
    );
  });
});
