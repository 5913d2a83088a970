/**
 * A small YAML emitter for the files this package generates (Prometheus rules): block mappings
 * and sequences of strings, numbers and booleans. It writes only what it can write safely, so no
 * dependency is needed: a string stays plain only when no YAML parser could read it as anything
 * else, multi-line strings become literal blocks, and everything else is quoted.
 */

export type YamlValue = string | number | boolean | YamlValue[] | { [key: string]: YamlValue };

/** Characters a plain (unquoted) scalar may hold after its first character. `#` is left out
 * (` #` starts a comment) and so is every control character. */
const PLAIN_BODY = /^[A-Za-z_][A-Za-z0-9_ .:/()[\]{}<>=!,*+\-~"'$|%@^?&\\]*$/;
/** Words YAML 1.1 parsers (still common) read as booleans or null. */
const RESERVED = /^(?:true|false|null|yes|no|on|off|y|n)$/i;
/** A Prometheus duration (`2m`, `1h30m`): digit-first, yet never a number in YAML. */
const DURATION = /^(?:\d+(?:ms|[ywdhms]))+$/;

function isPlainSafe(s: string): boolean {
  if (DURATION.test(s)) return true;
  return (
    PLAIN_BODY.test(s) &&
    !RESERVED.test(s) &&
    !s.includes(': ') &&
    !s.endsWith(':') &&
    !s.endsWith(' ')
  );
}

/** Multi-line text a literal block (`|-`) reproduces exactly: no carriage returns or other
 * control characters, no trailing newline (`|-` strips it), no line that starts the block with
 * spaces (it would need an indentation indicator) and no blank-but-spaced lines. */
function isLiteralSafe(s: string): boolean {
  if (!s.includes('\n') || s.endsWith('\n') || s.startsWith(' ')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s)) return false;
  return s.split('\n').every((line) => line === '' || /\S/.test(line));
}

function quote(s: string): string {
  // Single quotes need no escapes but cannot hold a line break or control character; JSON's
  // double-quoted strings are valid YAML double-quoted scalars and can.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) return JSON.stringify(s);
  return `'${s.replace(/'/g, "''")}'`;
}

function scalar(value: string | number | boolean): string {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot write ${value} as YAML`);
    return String(value);
  }
  return isPlainSafe(value) ? value : quote(value);
}

const isCollection = (v: YamlValue): v is YamlValue[] | { [key: string]: YamlValue } =>
  typeof v === 'object';

const isEmpty = (v: YamlValue[] | { [key: string]: YamlValue }) =>
  Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;

/** A scalar (or empty collection) after `prefix` (`key:` or `-`), its content at `indent`. */
function valueLines(prefix: string, value: YamlValue, indent: number): string[] {
  if (isCollection(value)) return [`${prefix} ${Array.isArray(value) ? '[]' : '{}'}`];
  if (typeof value === 'string' && isLiteralSafe(value)) {
    const pad = ' '.repeat(indent);
    return [`${prefix} |-`, ...value.split('\n').map((line) => (line ? pad + line : ''))];
  }
  return [`${prefix} ${scalar(value)}`];
}

function mappingLines(map: { [key: string]: YamlValue }, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const [key, value] of Object.entries(map)) {
    const prefix = `${pad}${scalar(key)}:`;
    if (isCollection(value) && !isEmpty(value)) {
      lines.push(prefix, ...blockLines(value, indent + 2));
    } else {
      lines.push(...valueLines(prefix, value, indent + 2));
    }
  }
  return lines;
}

function sequenceLines(items: YamlValue[], indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const item of items) {
    if (isCollection(item) && !isEmpty(item)) {
      // The item's first line shares the dash's line: `- key: value`.
      const inner = blockLines(item, indent + 2);
      lines.push(`${pad}- ${inner[0]!.slice(indent + 2)}`, ...inner.slice(1));
    } else {
      lines.push(...valueLines(`${pad}-`, item, indent + 2));
    }
  }
  return lines;
}

function blockLines(value: YamlValue[] | { [key: string]: YamlValue }, indent: number): string[] {
  return Array.isArray(value) ? sequenceLines(value, indent) : mappingLines(value, indent);
}

/** The YAML document for `value`, ending with a newline. */
export function toYaml(value: YamlValue): string {
  const lines =
    isCollection(value) && !isEmpty(value)
      ? blockLines(value, 0)
      : // A top-level scalar: written as a `-` item's value would be, without the dash.
        valueLines('-', value, 2).map((line, i) => (i === 0 ? line.slice(2) : line));
  return `${lines.join('\n')}\n`;
}
