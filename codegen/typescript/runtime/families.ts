/** Per-model table lookups: which row applies to a model, its defaults, and its rules. */

import { Problem } from "./checks.js";

/** One row of the spec's per-model table (`x-model-families`). */
export interface ModelFamily {
  readonly family: string;
  readonly match: readonly string[];
  readonly endpoints: readonly string[];
  readonly thinking_mode: string | null;
  readonly thinking_default: boolean | null;
  readonly streaming_only: boolean;
  readonly defaults: Readonly<Record<string, unknown>>;
  readonly defaults_thinking: Readonly<Record<string, unknown>>;
  readonly defaults_non_thinking: Readonly<Record<string, unknown>>;
  readonly supports: Readonly<Record<string, boolean>>;
  readonly limits: Readonly<Record<string, unknown>>;
  readonly docs: string;
  readonly streaming_only_when_thinking: boolean;
  readonly supports_when_thinking: Readonly<Record<string, boolean>>;
}

const ENDPOINT_CALLS: Record<string, string> = {
  "text-generation": "client.generation.create",
  "multimodal-generation": "client.multimodal.create",
  compatible: "client.chat.completions.create",
};

/** Whether thinking is on for this row, given the request's `enable_thinking` (or null). */
export function thinkingOn(row: ModelFamily, enableThinking: boolean | null): boolean {
  if (row.thinking_mode === "thinking-only") return true;
  if (row.thinking_mode === "none" || row.thinking_mode === null) return false;
  return enableThinking === null ? Boolean(row.thinking_default) : enableThinking;
}

/** A shell glob (`*`, `?`, `[...]`, `[!...]`) as an anchored, case-sensitive RegExp (fnmatchcase). */
export function globToRegExp(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) out += "\\[";
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        out += "[" + body.replace(/\\/g, "\\\\") + "]";
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\\]/-]/g, "\\$&");
  }
  return new RegExp(`^(?:${out})$`, "s");
}

export function makeLookup(families: readonly ModelFamily[]): (model: string) => ModelFamily {
  const compiled = families.map((row) => ({ row, patterns: row.match.map(globToRegExp) }));
  const cache = new Map<string, ModelFamily>();
  return (model: string): ModelFamily => {
    const hit = cache.get(model);
    if (hit !== undefined) return hit;
    const name = model.toLowerCase();
    let found = families[families.length - 1]!;
    for (const { row, patterns } of compiled) {
      if (patterns.some((p) => p.test(name))) {
        found = row;
        break;
      }
    }
    if (cache.size < 256) cache.set(model, found);
    return found;
  };
}

/** The documented defaults of a row, with the overrides of the thinking mode that applies. */
export function rowDefaults(row: ModelFamily, enableThinking: boolean | null): Record<string, unknown> {
  const thinking = thinkingOn(row, enableThinking);
  const out: Record<string, unknown> = { ...row.defaults, ...(thinking ? row.defaults_thinking : row.defaults_non_thinking) };
  if ((row.thinking_mode === "hybrid" || row.thinking_mode === "thinking-only") && !("enable_thinking" in out)) {
    out["enable_thinking"] = thinking;
  }
  return out;
}

const SUPPORT_CHECKS: ReadonlyArray<readonly [string, string, (v: unknown) => boolean]> = [
  ["tools", "tools", (v) => (Array.isArray(v) ? v.length > 0 : Boolean(v))],
  ["n", "n", (v) => v != null && v !== 1],
  ["logprobs", "logprobs", (v) => v === true],
  ["response_format", "response_format", (v) => v != null],
  ["code_interpreter", "enable_code_interpreter", (v) => v === true],
  ["search", "enable_search", (v) => v === true],
];

/** Push a Problem for every documented per-model rule the request breaks. */
export function checkModelRules(
  row: ModelFamily,
  endpoint: string,
  params: Record<string, any>,
  stream: boolean,
  out: Problem[],
): void {
  const docs = row.docs;
  // The compatible endpoint serves text and multimodal models alike, and the docs name it for
  // few models: only the two native endpoints are routed by the table.
  if (row.endpoints.length > 0 && endpoint !== "compatible" && !row.endpoints.includes(endpoint)) {
    const calls = row.endpoints.map((e) => ENDPOINT_CALLS[e] ?? e).join(" or ");
    out.push(new Problem("model", row.family, `is not served by this endpoint; use ${calls}`, docs, "model"));
  }
  const thinking = params["enable_thinking"];
  if (row.thinking_mode === "thinking-only" && thinking === false) {
    out.push(new Problem("enable_thinking", false, "cannot be turned off for this model", docs, "model"));
  }
  if (row.thinking_mode === "none" && thinking === true) {
    out.push(new Problem("enable_thinking", true, "this model has no thinking mode", docs, "model"));
  }
  const on = thinkingOn(row, typeof thinking === "boolean" ? thinking : null);
  if (!stream && (row.streaming_only || row.thinking_mode === "thinking-only")) {
    out.push(new Problem("stream", false, "this model only answers with stream=True", docs, "model"));
  } else if (!stream && on && row.streaming_only_when_thinking) {
    out.push(new Problem("stream", false, "in thinking mode this model only answers with stream=True", docs, "model"));
  }
  const whenThinking = Object.keys(row.supports_when_thinking).length > 0;
  const supports = on && whenThinking ? { ...row.supports, ...row.supports_when_thinking } : row.supports;
  for (const [flag, param, used] of SUPPORT_CHECKS) {
    if (supports[flag] === false && used(params[param])) {
      let rule = "is not supported by this model";
      if (on && flag in row.supports_when_thinking) rule += " in thinking mode";
      out.push(new Problem(param, params[param], rule, docs, "model"));
    }
  }
  for (const name of ["max_tokens", "thinking_budget", "max_input_tokens"]) {
    const limit = row.limits[name];
    const value = params[name];
    if (Number.isInteger(limit) && Number.isInteger(value) && (value as number) > (limit as number)) {
      out.push(new Problem(name, value, `must be <= ${limit} for this model`, docs, "model"));
    }
  }
}
