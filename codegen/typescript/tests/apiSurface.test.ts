/**
 * `api.md` against what `tsc` compiled: the exported names, each exported class's and
 * interface's public members, each resource method's parameters and the client options (with
 * the defaults a client shows) must be what the snapshot lists, so it cannot drift.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import ts from "typescript";

import { ModelStudio } from "../src/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const API = readFileSync(`${ROOT}api.md`, "utf-8");
const DTS = `${ROOT}dist/src/index.d.ts`;

// ---- what api.md says -------------------------------------------------------------------------

/** The sections of `api.md` under `## title`, by their `### ` heading. */
function sections(title: string): Map<string, string> {
  const part = API.split(`\n## ${title}\n`)[1]?.split("\n## ")[0] ?? "";
  const out = new Map<string, string>();
  for (const chunk of part.split("\n### ").slice(1)) {
    const [heading, ...body] = chunk.split("\n");
    out.set(heading!.replace(/^`|`$/g, ""), body.join("\n"));
  }
  return out;
}

/** Names in a section: table rows (`| \`name\` |`) and list items (`- \`readonly name: T\``). */
function listedNames(body: string): Set<string> {
  const names = new Set<string>();
  for (const m of body.matchAll(/^\| `([^`]+)` \|/gm)) names.add(m[1]!);
  for (const m of body.matchAll(/^- `(?:readonly )?(\[[^\]]+\]|[\w$]+)/gm)) {
    if (m[1] !== "new") names.add(m[1]!);
  }
  return names;
}

function exportedSections(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [heading, body] of sections("Exports")) {
    const m = /^(?:class|interface|type|const|function) ([\w$]+)/.exec(heading);
    assert.ok(m, `a heading api.md's reader does not know: ${heading}`);
    out.set(m[1]!, body);
  }
  return out;
}

// ---- what tsc compiled ------------------------------------------------------------------------

const program = ts.createProgram([DTS], { strict: true, noEmit: true, types: [] });
const checker = program.getTypeChecker();
const entry = checker.getSymbolAtLocation(program.getSourceFile(DTS)!)!;

function resolved(symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

const exported = new Map(checker.getExportsOfModule(entry).map((s) => [s.name, resolved(s)] as const));

function memberName(member: ts.ClassElement | ts.TypeElement): string | null {
  const name = member.name;
  if (name === undefined || ts.isPrivateIdentifier(name)) return null;
  const modifiers = ts.canHaveModifiers(member) ? (ts.getModifiers(member) ?? []) : [];
  if (modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) {
    return null;
  }
  return ts.isComputedPropertyName(name) ? `[${name.expression.getText()}]` : name.getText();
}

/** The public members a declaration declares, with those of a base class the package does not
 * export (as api.md lists them); constructors aside. */
function declaredMembers(symbol: ts.Symbol): Set<string> {
  const names = new Set<string>();
  for (const decl of symbol.declarations ?? []) {
    if (!ts.isClassDeclaration(decl) && !ts.isInterfaceDeclaration(decl)) continue;
    for (const member of decl.members as ts.NodeArray<ts.ClassElement | ts.TypeElement>) {
      if (ts.isConstructorDeclaration(member)) {
        for (const p of member.parameters) {
          const property = (ts.getModifiers(p) ?? []).some(
            (m) => m.kind === ts.SyntaxKind.ReadonlyKeyword || m.kind === ts.SyntaxKind.PublicKeyword,
          );
          if (property) names.add(p.name.getText());
        }
        continue;
      }
      const name = memberName(member);
      if (name !== null) names.add(name);
    }
    for (const clause of decl.heritageClauses ?? []) {
      if (clause.token !== ts.SyntaxKind.ExtendsKeyword) continue;
      for (const base of clause.types) {
        const baseSymbol = checker.getSymbolAtLocation(base.expression);
        if (baseSymbol === undefined) continue;
        const target = resolved(baseSymbol);
        if (exported.has(target.name) || !target.declarations?.[0]?.getSourceFile().fileName.startsWith(`${ROOT}dist/`)) continue;
        for (const n of declaredMembers(target)) names.add(n);
      }
    }
  }
  return names;
}

function propertyType(type: ts.Type, name: string): ts.Type {
  const prop = type.getProperty(name);
  assert.ok(prop, `no property ${name}`);
  return checker.getTypeOfSymbol(prop);
}

const sorted = (names: Iterable<string>): string[] => [...names].sort();

// ---- the comparisons --------------------------------------------------------------------------

test("api.md lists exactly the names index.d.ts exports", () => {
  assert.ok(exported.size > 30, "the compiled entry exports the package");
  assert.deepEqual(sorted(exportedSections().keys()), sorted(exported.keys()));
});

test("api.md lists every public member of every exported class and interface", () => {
  let compared = 0;
  for (const [name, body] of exportedSections()) {
    const symbol = exported.get(name)!;
    if (!(symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))) continue;
    assert.deepEqual(sorted(listedNames(body)), sorted(declaredMembers(symbol)), name);
    compared++;
  }
  assert.ok(compared > 50, `compared ${compared} classes and interfaces`);
});

test("each resource method takes the parameters api.md lists (wire names)", () => {
  const client = checker.getDeclaredTypeOfSymbol(exported.get("ModelStudio")!);
  const resources = [...sections("Resources")];
  assert.ok(resources.length >= 3);
  for (const [heading, body] of resources) {
    const m = /^client\.([\w.]+)\.create\((.*)\)$/.exec(heading);
    assert.ok(m, heading);
    let type: ts.Type = client;
    for (const part of m[1]!.split(".")) type = propertyType(type, part);
    const signatures = propertyType(type, "create").getCallSignatures();
    assert.ok(signatures.length > 0, heading);
    const general = signatures[signatures.length - 1]!;
    assert.deepEqual(
      general.getParameters().map((p) => p.name + ((p.valueDeclaration as ts.ParameterDeclaration).questionToken ? "?" : "")),
      m[2]!.split(", "),
      heading,
    );
    const params = checker.getTypeOfSymbol(general.getParameters()[0]!);
    const table = body.split("wire names):")[1] ?? "";
    assert.deepEqual(sorted(listedNames(table)), sorted(params.getProperties().map((p) => p.name)), heading);
  }
});

test("the client options and the defaults a client shows are api.md's", () => {
  const [heading, body] = [...sections("Client")][0]!;
  assert.equal(heading, "new ModelStudio(options?: ClientOptions)");
  const options = body.split("Members:")[0]!;
  const compiled = checker.getDeclaredTypeOfSymbol(exported.get("ClientOptions")!);
  assert.deepEqual(sorted(listedNames(options)), sorted(compiled.getProperties().map((p) => p.name)));
  const defaults = new Map<string, unknown>();
  for (const m of options.matchAll(/^\| `(\w+)` \| .* \| no \| `([^`]+)` \|/gm)) {
    try {
      defaults.set(m[1]!, JSON.parse(m[2]!));
    } catch {
      // a default that is a name (globalThis.fetch), not a value
    }
  }
  const client = new ModelStudio({ apiKey: "sk-api-md" }) as unknown as Record<string, unknown>;
  const shown = ["maxRetries", "timeout", "streamIdleTimeout", "validation"];
  for (const key of shown) assert.deepEqual(client[key], defaults.get(key), key);
});
