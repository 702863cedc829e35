/** What the generated validators report, and how a call turns reports into errors or warnings. */

import { ValidationError } from "./errors.js";

/** "strict" throws `ValidationError` before any I/O, "warn" emits a warning, "off" skips. */
export type ValidationMode = "strict" | "warn" | "off";
export const VALIDATION_MODES: readonly ValidationMode[] = ["strict", "warn", "off"];

/** What kind of rule a problem breaks (spec/conformance/README.md, suite `validate`). */
export type ProblemKind =
  | "required"
  | "type"
  | "const"
  | "enum"
  | "range"
  | "length"
  | "items"
  | "pattern"
  | "unknown"
  | "rule"
  | "model"
  | "media";

/** One broken rule: where (`path`, in the request body), the value, the rule (a message), the
 * docs, and the `kind` of rule. */
export class Problem {
  constructor(
    readonly path: string,
    readonly value: unknown,
    readonly rule: string,
    readonly docs: string,
    readonly kind: ProblemKind = "rule",
  ) {}

  /** The name a caller knows: `temperature`, `messages[0].content`, `ocr_options.task`. */
  get param(): string {
    let path = this.path.replace(/^\.+/, "");
    for (const prefix of ["parameters.", "input."]) {
      if (path.startsWith(prefix)) {
        path = path.slice(prefix.length);
        break;
      }
    }
    return path;
  }
}

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value at a dotted path in nested objects, or undefined where any step is missing. */
export function at(params: Record<string, any>, dotted: string): any {
  let value: any = params;
  for (const step of dotted.split(".")) {
    if (!isObject(value)) return undefined;
    value = value[step];
  }
  return value;
}

/** Where a NaN or an Infinity sits in a JSON-like value (".a[2]"; "" for the value itself), or
 * null: JSON has no such numbers (JSON.stringify would send null), so none may reach the wire. */
export function nonFiniteAt(value: unknown): string | null {
  if (typeof value === "number") return Number.isFinite(value) ? null : "";
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = nonFiniteAt(value[i]);
      if (inner !== null) return `[${i}]${inner}`;
    }
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) {
      const inner = nonFiniteAt(value[key]);
      if (inner !== null) return `.${key}${inner}`;
    }
  }
  return null;
}

export function hasKeys(value: Record<string, any>, keys: readonly string[]): boolean {
  for (const key of keys) if (!(key in value)) return false;
  return true;
}

/** The length of a string in Unicode code points, as the spec's minLength/maxLength count. */
export function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= text.length) n++;
    else {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
      n++;
    }
  }
  return n;
}

function short(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? "undefined" : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length <= 80 ? text : text.slice(0, 77) + "...";
}

export function describeProblem(problem: Problem, model: string | null): string {
  const where = `model ${JSON.stringify(model)}`;
  const docs = problem.docs ? `; docs: ${problem.docs}` : "";
  return `${problem.param}=${short(problem.value)}: ${problem.rule} (${where}${docs})`;
}

/** Throw `ValidationError` for the first problem (strict), or warn for each (warn). */
export function enforce(problems: readonly Problem[], mode: ValidationMode, model: string | null): void {
  if (problems.length === 0 || mode === "off") return;
  if (mode === "warn") {
    for (const problem of problems) emitWarning(describeProblem(problem, model));
    return;
  }
  const first = problems[0]!;
  let message = describeProblem(first, model);
  if (problems.length > 1) {
    const rest = problems
      .slice(1, 4)
      .map((p) => describeProblem(p, model))
      .join("; ");
    message += ` [and ${problems.length - 1} more: ${rest}]`;
  }
  throw new ValidationError(message, {
    param: first.param,
    value: first.value,
    rule: first.rule,
    kind: first.kind,
    model,
    docs: first.docs,
    problems,
  });
}

function emitWarning(message: string): void {
  const proc = (globalThis as { process?: { emitWarning?: (m: string, name: string) => void } }).process;
  if (proc?.emitWarning) proc.emitWarning(message, "ValidationWarning");
  else console.warn(`ValidationWarning: ${message}`);
}
