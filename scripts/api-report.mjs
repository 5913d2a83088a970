#!/usr/bin/env node
/**
 * The public API report: for every entry in package.json "exports", each exported name and its
 * declaration as the built `dist/*.d.ts` gives it to users (comments and private members left
 * out), written to `api/<entry>.api.md`.
 * A change to the report is a change to what we promise; it is reviewed like code.
 *
 *   node scripts/api-report.mjs            compare with api/ and print the diff; exit 1 on any
 *   node scripts/api-report.mjs --update   write api/
 *   node scripts/api-report.mjs --counts   print values and names per entry, and the sizes
 *
 * Reads `dist/` (run `npm run build` first). Besides the names, each report lists the types a
 * public declaration refers to but no entry exports (habit 6 says there should be none), and the
 * check fails when an entry's CommonJS declarations (`.d.cts`) or its runtime values (ESM and
 * CJS) differ from its `.d.ts`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const apiDir = join(root, 'api');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const mode = process.argv.includes('--update')
  ? 'update'
  : process.argv.includes('--counts')
    ? 'counts'
    : 'check';

/** The entries users can import: `.` is `index`, `./overlay/react` is `overlay-react`. */
const entries = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target === 'object' && target.import?.types)
  .map(([subpath, target]) => ({
    specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
    file: subpath === '.' ? 'index' : subpath.slice(2).replaceAll('/', '-'),
    types: join(root, target.import.types),
    cjsTypes: join(root, target.require.types),
    esm: join(root, target.import.default),
    cjs: join(root, target.require.default),
  }));

const missing = entries.filter((e) => !existsSync(e.types)).map((e) => relative(root, e.types));
if (missing.length > 0) {
  console.error(`api-report: ${missing.join(', ')} missing: run \`npm run build\` first`);
  process.exit(2);
}

const program = ts.createProgram(
  entries.flatMap((e) => [e.types, e.cjsTypes]),
  {
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  },
);
const checker = program.getTypeChecker();
const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });
const distDir = join(root, 'dist');
const isOurs = (decl) => resolve(decl.getSourceFile().fileName).startsWith(distDir);

const resolveAlias = (symbol) =>
  symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;

/** A declaration as users see it: comments dropped, `declare` and `export` modifiers dropped
 * (the report says which names are exported), one member per line. */
function printDeclaration(decl) {
  const text = printer.printNode(ts.EmitHint.Unspecified, decl, decl.getSourceFile());
  return text
    .replace(/^(export )?(default )?(declare )?/, '')
    .split('\n')
    .filter((line) => !/^ {4}private /.test(line)) // a class's private members: not API
    .join('\n');
}

/** Identifiers in type positions and `typeof x` queries inside `node`. */
function referencedSymbols(node) {
  const found = new Set();
  const visit = (n) => {
    let name;
    if (ts.isTypeReferenceNode(n)) name = n.typeName;
    else if (ts.isExpressionWithTypeArguments(n)) name = n.expression;
    else if (ts.isTypeQueryNode(n)) name = n.exprName;
    else if (ts.isImportTypeNode(n)) name = n.qualifier;
    if (name) {
      while (ts.isQualifiedName(name)) name = name.left;
      while (ts.isPropertyAccessExpression(name)) name = name.expression;
      const symbol = checker.getSymbolAtLocation(name);
      if (symbol) found.add(resolveAlias(symbol));
    }
    ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

/** Whether an export names a value at run time: a class exported with `export { type X }`
 * anywhere along its chain of re-exports is a type only. */
function isValueExport(symbol) {
  let current = symbol;
  while (current.flags & ts.SymbolFlags.Alias) {
    const typeOnly = (current.declarations ?? []).some(
      (d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly),
    );
    if (typeOnly) return false;
    current = checker.getImmediateAliasedSymbol(current) ?? checker.getAliasedSymbol(current);
  }
  return (current.flags & ts.SymbolFlags.Value) !== 0;
}

/** The names an entry's declarations export: value or type, and the declaration text. */
function declaredExports(typesFile) {
  const source = program.getSourceFile(typesFile);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  const exported = moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : [];
  return exported
    .map((symbol) => {
      const target = resolveAlias(symbol);
      const decls = (target.declarations ?? []).filter((d) => !ts.isSourceFile(d));
      return {
        name: symbol.name,
        target,
        value: isValueExport(symbol),
        text: decls.map(printDeclaration).join('\n'),
        decls,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Everything the package exports anywhere, by symbol: a type one entry declares and another
 * exports is not "forgotten". */
const exportedEverywhere = new Set(
  entries.flatMap((e) => declaredExports(e.types).map((x) => x.target)),
);

/** Declarations of ours a public declaration refers to, and no entry exports. */
function forgotten(exports) {
  const seen = new Set(exports.map((x) => x.target));
  const queue = exports.flatMap((x) => x.decls);
  const out = [];
  while (queue.length > 0) {
    const decl = queue.shift();
    for (const symbol of referencedSymbols(decl)) {
      if (seen.has(symbol)) continue;
      seen.add(symbol);
      const decls = (symbol.declarations ?? []).filter(
        (d) => isOurs(d) && !ts.isTypeParameterDeclaration(d) && !ts.isSourceFile(d),
      );
      if (decls.length === 0 || exportedEverywhere.has(symbol)) continue;
      out.push({ name: symbol.name, text: decls.map(printDeclaration).join('\n') });
      queue.push(...decls);
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function report(entry) {
  const exports = declaredExports(entry.types);
  const values = exports.filter((x) => x.value);
  const lines = [
    `# API report: \`${entry.specifier}\``,
    '',
    '<!-- Generated by scripts/api-report.mjs from the built declarations. Do not edit: review',
    '     the change, then `npm run build && npm run api:update`. -->',
    '',
    `${values.length} values, ${exports.length} names in all.`,
    '',
    '| name | kind |',
    '| --- | --- |',
    ...exports.map((x) => `| \`${x.name}\` | ${x.value ? 'value' : 'type'} |`),
    '',
  ];
  for (const x of exports) lines.push(`## ${x.name}`, '', '```ts', x.text, '```', '');
  const hidden = forgotten(exports);
  if (hidden.length > 0) {
    lines.push(
      '## Referenced but not exported',
      '',
      'Public declarations above refer to these; users can see them but not name them.',
      '',
    );
    for (const x of hidden) lines.push(`### ${x.name}`, '', '```ts', x.text, '```', '');
  }
  return { text: `${lines.join('\n').trimEnd()}\n`, exports, values };
}

/** The names each format of an entry gives at run time, loaded in a child process (the CLI's
 * and the framework's side effects stay out of this one). */
function runtimeNames(entry) {
  const script = `
    const esm = Object.keys(await import(${JSON.stringify(pathToFileURL(entry.esm).href)}));
    const cjs = Object.keys(require(${JSON.stringify(entry.cjs)}));
    console.log(JSON.stringify({ esm: esm.filter((k) => k !== 'default').sort(), cjs: cjs.sort() }));
    process.exit(0);`;
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module'; const require = createRequire(${JSON.stringify(pathToFileURL(join(root, 'package.json')).href)});${script}`,
    ],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

const kib = (file) => `${(statSync(file).size / 1024).toFixed(1)} KiB`;
const problems = [];
const changed = [];

for (const entry of entries) {
  const { text, exports, values } = report(entry);
  const declaredValues = values.map((x) => x.name).sort();
  const cjsNames = declaredExports(entry.cjsTypes).map((x) => `${x.name}:${x.value}`);
  if (cjsNames.join() !== exports.map((x) => `${x.name}:${x.value}`).join()) {
    problems.push(`${entry.specifier}: its .d.cts declares other names than its .d.ts`);
  }
  const runtime = runtimeNames(entry);
  for (const format of ['esm', 'cjs']) {
    const extra = runtime[format].filter((n) => !declaredValues.includes(n));
    const absent = declaredValues.filter((n) => !runtime[format].includes(n));
    if (extra.length + absent.length > 0) {
      problems.push(
        `${entry.specifier} (${format}): runtime values differ from its declarations:` +
          (extra.length ? ` undeclared ${extra.join(', ')};` : '') +
          (absent.length ? ` declared but absent ${absent.join(', ')}` : ''),
      );
    }
  }
  const file = join(apiDir, `${entry.file}.api.md`);
  if (mode === 'counts') {
    console.log(
      `${entry.specifier}: ${runtime.esm.length} values (ESM; ${runtime.cjs.length} CJS), ` +
        `${exports.length} names; ${relative(root, entry.types)} ${kib(entry.types)}`,
    );
  } else if (mode === 'update') {
    mkdirSync(apiDir, { recursive: true });
    writeFileSync(file, text);
  } else {
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (committed !== text) changed.push({ file, text });
  }
}

if (mode === 'counts') {
  const dts = readdirSync(distDir).filter((f) => f.endsWith('.d.ts'));
  const total = dts.reduce((n, f) => n + statSync(join(distDir, f)).size, 0);
  console.log(`dist/*.d.ts: ${dts.length} files, ${(total / 1024).toFixed(1)} KiB`);
}
if (mode === 'update') {
  const known = new Set(entries.map((e) => `${e.file}.api.md`));
  const stale = existsSync(apiDir)
    ? readdirSync(apiDir).filter((f) => f.endsWith('.api.md') && !known.has(f))
    : [];
  if (stale.length > 0) console.warn(`api-report: no entry for ${stale.join(', ')}: remove them`);
  console.log(`api-report: wrote ${entries.length} reports to api/`);
}
for (const { file, text } of changed) {
  const fresh = join(root, 'node_modules/.cache/api-report', relative(apiDir, file));
  mkdirSync(dirname(fresh), { recursive: true });
  writeFileSync(fresh, text);
  try {
    execFileSync('git', ['diff', '--no-index', '--no-color', '--', file, fresh], {
      cwd: root,
      stdio: 'inherit',
    });
  } catch {
    // git diff --no-index exits 1 when the files differ: that is the point here
  }
}
if (changed.length > 0) {
  problems.push(
    `the public API changed (${changed.map((c) => relative(root, c.file)).join(', ')}; diff above). ` +
      'If the change is meant, review it and run `npm run api:update`, then commit api/.',
  );
}
if (problems.length > 0 && mode !== 'counts') {
  for (const p of problems) console.error(`api-report: ${p}`);
  process.exit(1);
}
if (mode === 'check')
  console.log(`api-report: the API of ${entries.length} entries is as reviewed`);
