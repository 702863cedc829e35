/** Per-model table lookups: which row applies to a model, its defaults, and its rules. */

import { Problem } from "./checks.js";
import { cite } from "./docsPages.js";

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
  /** `x-requires` / `x-requires-when-thinking`: the only value a parameter may take (in every
   * mode / when thinking is on); the SDK sends it when the call leaves the parameter out. */
  readonly requires: Readonly<Record<string, unknown>>;
  readonly requires_when_thinking: Readonly<Record<string, unknown>>;
}

const ENDPOINT_CALLS: Record<string, string> = {
  "text-generation": "client.generation.create",
  "multimodal-generation": "client.multimodal.create",
  compatible: "client.chat.completions.create",
};

/** Whether thinking is on for this row, given the request's `enable_thinking` (or null). */
export function thinkingOn(row: ModelFamily, enableThinking: boolean | null): boolean {
  if (row.thinking_mode === "thinking-only") return true;
  if (row.thinking_mode === "none") return false;
  // hybrid, or a row whose mode is not documented: the argument, else the row's default (none
  // documented: off)
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

/** The documented defaults of a row, with the overrides of the thinking mode that applies:
 * what the service uses for a parameter the request leaves out. */
export function serverDefaults(row: ModelFamily, enableThinking: boolean | null): Record<string, unknown> {
  const thinking = thinkingOn(row, enableThinking);
  const out: Record<string, unknown> = { ...row.defaults, ...(thinking ? row.defaults_thinking : row.defaults_non_thinking) };
  if ((row.thinking_mode === "hybrid" || row.thinking_mode === "thinking-only") && !("enable_thinking" in out)) {
    out["enable_thinking"] = thinking;
  }
  return out;
}

/** The only value some parameters may take for this row, in the mode that applies. */
export function requiredValues(row: ModelFamily, thinking: boolean): Record<string, unknown> {
  return thinking ? { ...row.requires, ...row.requires_when_thinking } : { ...row.requires };
}

/** The defaults of a row as the SDK sends them: the documented defaults, except that where the
 * mode allows only one value (`x-requires*`) that value is given. */
export function rowDefaults(row: ModelFamily, enableThinking: boolean | null): Record<string, unknown> {
  return { ...serverDefaults(row, enableThinking), ...requiredValues(row, thinkingOn(row, enableThinking)) };
}

function thinkingArgument(params: Record<string, any>): boolean | null {
  const value = params["enable_thinking"];
  return typeof value === "boolean" ? value : null;
}

/** What a row settles in one thinking mode, worked out once per row and mode (the rows are
 * read-only): its `serverDefaults`, its `requiredValues` and the support flags that apply. The
 * per-call checks read these instead of merging the row's tables again on every call. Private:
 * never handed to a caller, who could change them. */
interface ModeTables {
  readonly defaults: Record<string, unknown>;
  readonly requires: Readonly<Record<string, unknown>>;
  readonly requiredKeys: readonly string[];
  /** The features this row refuses in this mode (`SUPPORT_CHECKS` order), with the reason. */
  readonly refused: ReadonlyArray<{ readonly param: string; readonly used: (v: unknown) => boolean; readonly rule: string; readonly docs: string }>;
  /** Why an assistant message with `partial: true` is refused, or null where it is allowed. */
  readonly partialRule: string | null;
  /** The integer limits of the row (`LIMITED` order). */
  readonly limits: ReadonlyArray<readonly [string, number]>;
}

const MODE_TABLES = new WeakMap<ModelFamily, { off?: ModeTables; on?: ModeTables }>();

/** The tables of `row` with thinking on or off (`thinking` as `thinkingOn` resolved it). */
function modeTables(row: ModelFamily, thinking: boolean): ModeTables {
  let both = MODE_TABLES.get(row);
  if (both === undefined) {
    both = {};
    MODE_TABLES.set(row, both);
  }
  const hit = thinking ? both.on : both.off;
  if (hit !== undefined) return hit;
  const requires = requiredValues(row, thinking);
  const whenThinking = Object.keys(row.supports_when_thinking).length > 0;
  const supports = thinking && whenThinking ? { ...row.supports, ...row.supports_when_thinking } : row.supports;
  const refused: Array<ModeTables["refused"][number]> = [];
  for (const [flag, param, used] of SUPPORT_CHECKS) {
    const rule = supported(row, flag, supports, thinking);
    const where = SUPPORT_DOCS[flag];
    if (rule !== null) refused.push({ param, used, rule, docs: where ? `${where}; ${row.docs}` : row.docs });
  }
  const limits: Array<readonly [string, number]> = [];
  for (const name of LIMITED) {
    const limit = row.limits[name];
    if (Number.isInteger(limit)) limits.push([name, limit as number]);
  }
  const tables: ModeTables = {
    defaults: serverDefaults(row, thinking),
    requires,
    requiredKeys: Object.keys(requires),
    refused,
    partialRule: supported(row, "partial_mode", supports, thinking),
    limits,
  };
  if (thinking) both.on = tables;
  else both.off = tables;
  return tables;
}

/** Each parameter as the service will see it: the value sent, else the model's documented
 * default in the thinking mode that applies (the `$effective.` paths of `x-rules`). Read it by
 * key: the values sent are its own properties, the defaults sit on its prototype (shared, so
 * that a call copies none of them). */
export function effectiveParams(row: ModelFamily | null, params: Record<string, any>): Record<string, any> {
  if (row === null) return params;
  const out: Record<string, any> = Object.create(modeTables(row, thinkingOn(row, thinkingArgument(params))).defaults);
  for (const k of Object.keys(params)) {
    const v = params[k];
    if (v !== null && v !== undefined) out[k] = v;
  }
  return out;
}

/** Fill in what the SDK sends when the call leaves it out (in place): the value the model's mode
 * requires (`x-requires*`), and incremental events when streaming. */
export function fillRequired(row: ModelFamily, params: Record<string, any>, stream: boolean): void {
  const { requires, requiredKeys } = modeTables(row, thinkingOn(row, thinkingArgument(params)));
  for (const key of requiredKeys) {
    if (params[key] === null || params[key] === undefined) params[key] = requires[key];
  }
  if (stream && (params["incremental_output"] === null || params["incremental_output"] === undefined)) {
    params["incremental_output"] = true;
  }
}

function partialMessages(messages: unknown): number[] {
  if (!Array.isArray(messages)) return [];
  const out: number[] = [];
  messages.forEach((m: any, i: number) => {
    if (m !== null && typeof m === "object" && m["role"] === "assistant" && m["partial"] === true) out.push(i);
  });
  return out;
}

// (flag, parameter, whether the call uses it). Flags in ONLY_LISTED have an explicit "only these
// models" list in the docs: a known model must be on it. The others are refused only where a page
// excludes the model (their lists are examples, and recordings show more models).
const SUPPORT_CHECKS: ReadonlyArray<readonly [string, string, (v: unknown) => boolean]> = [
  ["tools", "tools", (v) => (Array.isArray(v) ? v.length > 0 : Boolean(v))],
  ["n", "n", (v) => v != null && v !== 1],
  ["logprobs", "logprobs", (v) => v === true],
  ["response_format", "response_format", (v) => v != null],
  ["code_interpreter", "enable_code_interpreter", (v) => v === true],
  ["search", "enable_search", (v) => v === true],
  ["max_input_tokens", "max_input_tokens", (v) => v != null],
  ["output_format", "output_format", (v) => v != null],
  ["asr_options", "asr_options", (v) => v != null],
  ["ocr_options", "ocr_options", (v) => v != null],
];
const ONLY_LISTED = new Set(["n", "code_interpreter", "max_input_tokens", "partial_mode", "output_format", "asr_options", "ocr_options"]);
const SUPPORT_DOCS: Record<string, string> = {
  n: cite("dashscope-chat-reference", "n"),
  code_interpreter: cite("dashscope-chat-reference", "enable_code_interpreter"),
  max_input_tokens: cite("qwen-api-reference", "max_input_tokens"),
  partial_mode: cite("qwen-api-reference", "Assistant Message partial"),
  output_format: cite("qwen-api-reference", "output_format (qwen-deep-research only)"),
  asr_options: cite("qwen-api-reference", "asr_options (Qwen3 ASR only)"),
  ocr_options: cite("qwen-api-reference", "ocr_options (Qwen-OCR)"),
};
const LIMITED = ["max_tokens", "thinking_budget", "max_input_tokens"] as const;
const REQUIRES_DOCS = cite("dashscope-chat-reference", "result_format") + "; " + cite("qwen-api-reference", "incremental_output");

/** Whether the row allows a feature, and the reason when it does not. */
function supported(row: ModelFamily, flag: string, supports: Readonly<Record<string, boolean>>, on: boolean): string | null {
  const value = supports[flag];
  const mode = on && flag in row.supports_when_thinking ? " in thinking mode" : "";
  if (value === false) return "is not supported by this model" + mode;
  if (value === undefined && ONLY_LISTED.has(flag) && !(row.match.length === 1 && row.match[0] === "*")) {
    return "is not supported by this model (the docs list the models that take it)";
  }
  return null;
}

function pyRepr(value: unknown): string {
  if (typeof value === "string") return `'${value}'`;
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null) return "None";
  return JSON.stringify(value);
}

/** A parameter the mode allows only one value of (`x-requires*`) must have that value, as sent
 * or, when left out, as the service's default. */
function checkRequirements(row: ModelFamily, params: Record<string, any>, on: boolean, out: Problem[]): void {
  const { requires: wanted, requiredKeys: keys, defaults } = modeTables(row, on);
  if (keys.length === 0) return;
  for (const key of keys) {
    const want = wanted[key];
    let value = params[key];
    if (value === null || value === undefined) value = defaults[key];
    if (value !== null && value !== undefined && value !== want) {
      const mode = on && key in row.requires_when_thinking ? " in thinking mode" : "";
      out.push(new Problem(key, value, `this model takes only ${key}=${pyRepr(want)}${mode}`, `${REQUIRES_DOCS}; ${row.docs}`, "model"));
    }
  }
}

/** Push a Problem for every documented per-model rule the request breaks. */
export function checkModelRules(
  row: ModelFamily,
  endpoint: string,
  params: Record<string, any>,
  stream: boolean,
  out: Problem[],
  messages: unknown = null,
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
  if (!stream && row.streaming_only) {
    out.push(new Problem("stream", false, "this model only answers with stream=True", docs, "model"));
  } else if (!stream && on && row.streaming_only_when_thinking) {
    out.push(new Problem("stream", false, "in thinking mode this model only answers with stream=True", docs, "model"));
  }
  if (endpoint !== "compatible") checkRequirements(row, params, on, out);
  const tables = modeTables(row, on);
  for (const { param, used, rule, docs: where } of tables.refused) {
    const value = params[param];
    if (used(value)) out.push(new Problem(param, value, rule, where, "model"));
  }
  const partialRule = tables.partialRule;
  if (endpoint !== "compatible" && partialRule !== null) {
    for (const i of partialMessages(messages)) {
      out.push(new Problem(`input.messages[${i}].partial`, true, partialRule, `${SUPPORT_DOCS["partial_mode"]}; ${docs}`, "model"));
    }
  }
  for (const [name, limit] of tables.limits) {
    const value = params[name];
    if (Number.isInteger(value) && (value as number) > limit) {
      out.push(new Problem(name, value, `must be <= ${limit} for this model`, docs, "model"));
    }
  }
}
