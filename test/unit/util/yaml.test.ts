import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toYaml } from '../../../src/util/yaml.js';

describe('toYaml', () => {
  it('writes block mappings and sequences, mappings in a sequence starting on the dash line', () => {
    assert.equal(
      toYaml({
        groups: [
          { name: 'a', rules: [{ record: 'x:y:z', expr: 'sum(rate(m[5m]))' }] },
          { name: 'b', rules: [] },
        ],
        list: ['one', 2, true, [3, 4]],
        empty: {},
      }),
      [
        'groups:',
        '  - name: a',
        '    rules:',
        '      - record: x:y:z',
        '        expr: sum(rate(m[5m]))',
        '  - name: b',
        '    rules: []',
        'list:',
        '  - one',
        '  - 2',
        '  - true',
        '  - - 3',
        '    - 4',
        'empty: {}',
        '',
      ].join('\n'),
    );
  });

  it('leaves PromQL and durations plain when no parser could read them otherwise', () => {
    for (const s of [
      'histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m]))) > 2',
      'up{job="a",instance=~"b.*"} == 0',
      'The p90 is {{ $value | humanizeDuration }} for {{ $labels.provider }}',
      '2m',
      '1h30m',
      '500ms',
      'a:b:c',
      "it's",
    ]) {
      assert.equal(toYaml({ k: s }), `k: ${s}\n`, s);
    }
  });

  it('quotes what YAML would read as another type, or as syntax', () => {
    for (const [s, written] of [
      ['true', "'true'"],
      ['No', "'No'"],
      ['null', "'null'"],
      ['y', "'y'"],
      ['5', "'5'"],
      ['1e3', "'1e3'"],
      ['0x1f', "'0x1f'"],
      ['', "''"],
      ['{{ $labels.component }} is failing', "'{{ $labels.component }} is failing'"],
      ['- item', "'- item'"],
      ['key: value', "'key: value'"],
      ['ends with colon:', "'ends with colon:'"],
      ['a #comment', "'a #comment'"],
      [' leading', "' leading'"],
      ['trailing ', "'trailing '"],
      ["'single'", "'''single'''"],
      ['*alias', "'*alias'"],
      ['tab\there', '"tab\\there"'],
      ['bell\u0007', '"bell\\u0007"'],
    ] as const) {
      assert.equal(toYaml({ k: s }), `k: ${written}\n`, JSON.stringify(s));
    }
    assert.equal(toYaml({ 'odd key': 1, 'a: b': 2 }), "odd key: 1\n'a: b': 2\n");
  });

  it('writes multi-line text as a literal block, indented under its key', () => {
    assert.equal(
      toYaml({ rules: [{ expr: 'a\n  or\n\nb' }] }),
      'rules:\n  - expr: |-\n      a\n        or\n\n      b\n',
    );
    // What a literal block cannot reproduce exactly is double-quoted instead.
    assert.equal(toYaml({ k: 'ends\n' }), 'k: "ends\\n"\n');
    assert.equal(toYaml({ k: '  indented\nfirst' }), 'k: "  indented\\nfirst"\n');
    assert.equal(toYaml({ k: 'a\n  \nb' }), 'k: "a\\n  \\nb"\n');
    assert.equal(toYaml({ k: 'a\r\nb' }), 'k: "a\\r\\nb"\n');
  });

  it('writes numbers as YAML reads them back and refuses the ones it cannot', () => {
    assert.equal(toYaml({ a: 1.5, b: 0.001, c: -3 }), 'a: 1.5\nb: 0.001\nc: -3\n');
    assert.throws(() => toYaml({ a: Number.NaN }), /NaN/);
    assert.throws(() => toYaml({ a: Infinity }), /Infinity/);
  });

  it('writes a top-level scalar or empty collection as a document of its own', () => {
    assert.equal(toYaml('plain'), 'plain\n');
    assert.equal(toYaml('a\nb'), '|-\n  a\n  b\n');
    assert.equal(toYaml([]), '[]\n');
  });
});
