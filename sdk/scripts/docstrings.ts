/**
 * Carries the docstrings of the server's procedures into the SDK's published `.d.ts`.
 *
 * `AppRouter` is an inferred type, and TypeScript's declaration emit prints inferred
 * object types without the comments of the properties they came from, so `dist/index.d.ts`
 * would show an editor nothing on hover over `client.scopes.create`. This step reads every
 * `router({ … })` reachable from `appRouter` in src/router.ts (following identifiers to
 * their declarations with the type checker), takes the `/** … *\/` comment above each
 * procedure, and writes it above the same property, by path (`scopes.create`), in
 * `dist/index.d.ts` and `dist/index.d.cts`. Run after tsup (`npm run build`).
 *
 * @returns nothing; exits with 1 when the router or the declaration cannot be found, or
 *   when fewer than half of the procedures got a docstring (the shapes changed).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const sdkDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const routerFile = path.resolve(sdkDir, '../src/router.ts');

/** path (`scopes.create`) → the docstring as written (`/** … *\/`). */
export function collectDocstrings(file: string): Map<string, string> {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`cannot read ${file}`);
  const docs = new Map<string, string>();

  const docOf = (node: ts.Node): string | null => {
    const text = node.getSourceFile().getFullText();
    const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
    const last = ranges.filter((r) => text.startsWith('/**', r.pos)).at(-1);
    return last ? text.slice(last.pos, last.end) : null;
  };

  /** The object literal of `router({ … })`, following identifiers to their declarations. */
  const routerLiteral = (expr: ts.Expression, depth = 0): ts.ObjectLiteralExpression | null => {
    if (depth > 10) return null;
    if (ts.isCallExpression(expr) && ts.isIdentifier(expr.expression) && expr.expression.text === 'router') {
      const arg = expr.arguments[0];
      return arg && ts.isObjectLiteralExpression(arg) ? arg : null;
    }
    if (ts.isIdentifier(expr)) {
      let symbol = checker.getSymbolAtLocation(expr);
      if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      const decl = symbol?.declarations?.[0];
      if (decl && ts.isVariableDeclaration(decl) && decl.initializer) return routerLiteral(decl.initializer, depth + 1);
    }
    return null;
  };

  const walk = (literal: ts.ObjectLiteralExpression, prefix: string) => {
    for (const prop of literal.properties) {
      if (!ts.isPropertyAssignment(prop) && !ts.isShorthandPropertyAssignment(prop)) continue;
      const name = prop.name.getText();
      const key = prefix ? `${prefix}.${name}` : name;
      const doc = docOf(prop);
      if (doc) docs.set(key, doc);
      const init = ts.isPropertyAssignment(prop) ? prop.initializer : prop.name;
      const nested = routerLiteral(init);
      if (nested) walk(nested, key);
    }
  };

  let root: ts.ObjectLiteralExpression | null = null;
  source.forEachChild((node) => {
    if (!ts.isVariableStatement(node)) return;
    for (const d of node.declarationList.declarations) {
      if (ts.isIdentifier(d.name) && d.name.text === 'appRouter' && d.initializer) root = routerLiteral(d.initializer);
    }
  });
  if (!root) throw new Error(`no appRouter = router({ … }) in ${file}`);
  walk(root, '');
  return docs;
}

/** Property signatures of the router type in a `.d.ts`, by path, with the procedures among them. */
function routerProperties(dts: ts.SourceFile): { props: Map<string, ts.PropertySignature>; procedures: number } {
  const props = new Map<string, ts.PropertySignature>();
  let procedures = 0;
  const typeName = (t: ts.TypeNode) => (ts.isTypeReferenceNode(t) ? t.typeName.getText(dts) : '');

  /** `TRPCBuiltRouter<root, TRPCDecorateCreateRouterOptions<{ … }>>` → the `{ … }`. */
  const recordOf = (t: ts.TypeNode): ts.TypeLiteralNode | null => {
    if (!ts.isTypeReferenceNode(t) || !/TRPCBuiltRouter$/.test(typeName(t))) return null;
    const decorate = t.typeArguments?.[1];
    if (!decorate || !ts.isTypeReferenceNode(decorate)) return null;
    const record = decorate.typeArguments?.[0];
    return record && ts.isTypeLiteralNode(record) ? record : null;
  };
  const walk = (record: ts.TypeLiteralNode, prefix: string) => {
    for (const m of record.members) {
      if (!ts.isPropertySignature(m) || !m.type) continue;
      const key = prefix ? `${prefix}.${m.name.getText(dts)}` : m.name.getText(dts);
      props.set(key, m);
      const nested = recordOf(m.type);
      if (nested) walk(nested, key);
      else if (/TRPC(Query|Mutation|Subscription)Procedure$/.test(typeName(m.type))) procedures++;
    }
  };
  dts.forEachChild((node) => {
    if (!ts.isVariableStatement(node)) return;
    for (const d of node.declarationList.declarations) {
      if (ts.isIdentifier(d.name) && d.name.text === 'appRouter' && d.type) {
        const record = recordOf(d.type);
        if (record) walk(record, '');
      }
    }
  });
  return { props, procedures };
}

/** Writes the docstrings above their properties; returns how many procedures got one. */
export function injectDocstrings(file: string, docs: Map<string, string>): { documented: number; procedures: number } {
  const text = readFileSync(file, 'utf8');
  const dts = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const { props, procedures } = routerProperties(dts);
  if (props.size === 0) throw new Error(`no appRouter declaration in ${file}`);
  const edits: { at: number; insert: string }[] = [];
  let documented = 0;
  for (const [key, prop] of props) {
    const doc = docs.get(key);
    if (!doc) continue;
    const start = prop.getStart(dts);
    const lineStart = text.lastIndexOf('\n', start) + 1;
    const indent = text.slice(lineStart, start);
    // Re-indent the comment's lines to the property's column.
    const lines = doc.split('\n').map((l, i) => (i === 0 ? l : `${indent} ${l.trimStart()}`));
    edits.push({ at: lineStart, insert: `${indent}${lines.join('\n')}\n` });
    if (!/TRPCBuiltRouter$/.test(prop.type && ts.isTypeReferenceNode(prop.type) ? prop.type.typeName.getText(dts) : '')) documented++;
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, e.at) + e.insert + out.slice(e.at);
  writeFileSync(file, out);
  return { documented, procedures };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const docs = collectDocstrings(routerFile);
  for (const name of ['index.d.ts', 'index.d.cts']) {
    const file = path.join(sdkDir, 'dist', name);
    const { documented, procedures } = injectDocstrings(file, docs);
    if (documented * 2 < procedures) {
      process.stderr.write(`docstrings: only ${documented} of ${procedures} procedures in dist/${name} got a docstring\n`);
      process.exit(1);
    }
  }
}
