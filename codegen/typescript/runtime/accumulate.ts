/**
 * Accumulation of native DashScope stream chunks (parsed JSON objects).
 *
 * A chunk has the shape of a non-streaming response: `request_id`, `output` and `usage`, and
 * `output` holds `text` + `finish_reason` (result_format "text"), `choices[]` with a `message`
 * (result_format "message"; content a string or a list of parts) or deep research's `message`.
 * `finish_reason` is the string "null" until the final event; `usage` is cumulative.
 *
 * With `incremental_output: true` each event carries only the new text; otherwise each event
 * repeats the whole text so far and the accumulator (`incremental: false`) turns it into the
 * suffix beyond what was already seen. If the server's text is not an extension of what was
 * seen, the whole new text is the delta and replaces the accumulated value. The same rules as
 * the Python binding's `_accumulate` module.
 */

type Json = Record<string, any>;

/** What one chunk added, for one choice (the first choice of the chunk). */
export interface Delta {
  text: string;
  reasoning_content: string;
  tool_calls: Json[];
  finish_reason: string | null;
  index: number;
}

export function emptyDelta(): Delta {
  return { text: "", reasoning_content: "", tool_calls: [], finish_reason: null, index: 0 };
}

const KNOWN_OUTPUT_KEYS = new Set(["text", "finish_reason", "choices", "message"]);
const KNOWN_CHOICE_KEYS = new Set(["message", "finish_reason", "index"]);
const KNOWN_MESSAGE_KEYS = new Set(["role", "content", "reasoning_content", "tool_calls"]);
const TOOL_KEYS = new Set(["index", "id", "type", "function"]);
const FUNCTION_KEYS = new Set(["name", "arguments"]);

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function finalReason(value: unknown): string | null {
  return typeof value === "string" && value !== "" && value !== "null" ? value : null;
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  return isObject(value) && Object.keys(value).length === 0;
}

function hasUnknown(source: Json, known: Set<string>): boolean {
  for (const key in source) if (!known.has(key)) return true;
  return false;
}

/** Keep unknown keys; a later non-empty value wins (objects merged one level deep). */
function mergeExtra(into: Json, source: Json, known: Set<string>): void {
  for (const key of Object.keys(source)) {
    if (known.has(key)) continue;
    const value = source[key];
    const old = into[key];
    if (isObject(value) && isObject(old)) {
      const merged: Json = { ...old };
      for (const [k, v] of Object.entries(value)) if (!isEmpty(v) || !(k in merged)) merged[k] = v;
      into[key] = merged;
    } else if (old === undefined || old === null || !isEmpty(value)) {
      into[key] = value;
    }
  }
}

/** One accumulated string: pieces joined lazily (incremental) or the latest whole text. */
class Text {
  parts: string[] = [];
  whole = "";
  length = 0;
  constructor(readonly incremental: boolean) {}

  add(value: string): string {
    if (this.incremental) {
      if (value) {
        this.parts.push(value);
        this.length += value.length;
      }
      return value;
    }
    const old = this.whole;
    this.whole = value;
    this.length = value.length;
    return value.startsWith(old) ? value.slice(old.length) : value;
  }

  value(): string {
    if (!this.incremental) return this.whole;
    if (this.parts.length > 1) this.parts = [this.parts.join("")];
    return this.parts[0] ?? "";
  }
}

class ToolCall {
  id = "";
  type = "";
  name = "";
  readonly arguments: Text;
  readonly extra: Json = {};
  readonly functionExtra: Json = {};

  constructor(
    readonly index: number,
    incremental: boolean,
  ) {
    this.arguments = new Text(incremental);
  }

  add(fragment: Json): Json {
    if (fragment["id"]) this.id = fragment["id"];
    if (fragment["type"]) this.type = fragment["type"];
    const fn: Json = isObject(fragment["function"]) ? fragment["function"] : {};
    if (fn["name"]) this.name = fn["name"];
    const args = fn["arguments"];
    const newArgs = typeof args === "string" ? this.arguments.add(args) : "";
    mergeExtra(this.extra, fragment, TOOL_KEYS);
    mergeExtra(this.functionExtra, fn, FUNCTION_KEYS);
    if (this.arguments.incremental) return "index" in fragment ? fragment : { index: this.index, ...fragment };
    return { ...fragment, index: this.index, function: { ...fn, arguments: newArgs } };
  }

  final(): Json {
    return {
      index: this.index,
      id: this.id,
      type: this.type || "function",
      ...this.extra,
      function: { name: this.name, arguments: this.arguments.value(), ...this.functionExtra },
    };
  }
}

class Choice {
  hasIndex = false;
  role = "assistant";
  readonly content: Text;
  contentIsList = false;
  /** Non-text parts of a list content, with the length of the text before each one. */
  otherParts: Array<[number, Json]> = [];
  readonly reasoning: Text;
  hasReasoning = false;
  readonly toolCalls = new Map<number, ToolCall>();
  finishReason: string | null = null;
  readonly choiceExtra: Json = {};
  readonly messageExtra: Json = {};

  constructor(
    readonly index: number,
    incremental: boolean,
  ) {
    this.content = new Text(incremental);
    this.reasoning = new Text(incremental);
  }
}

function sortedValues<T>(map: Map<number, T>): T[] {
  return [...map.keys()].sort((a, b) => a - b).map((k) => map.get(k)!);
}

/** Merge native stream chunks; `add` returns the `Delta` of each chunk. */
export class Accumulator {
  readonly #choices = new Map<number, Choice>();
  #text: Text | null = null;
  #outputFinish: string | null = null;
  readonly #drContent = new Map<string, Text>();
  #drMessage: Json | null = null;
  #drFinished = false;
  readonly #outputExtra: Json = {};
  #last: Json = {};
  // The stream hangs each chunk's delta on it as `delta`: not part of the final response.
  #lastDelta: Delta | null = null;
  #requestId: unknown = null;
  events = 0;

  constructor(readonly incremental: boolean) {}

  add(chunk: Json): Delta {
    this.events++;
    this.#last = chunk;
    if (!this.#requestId) this.#requestId = chunk["request_id"];
    const output = chunk["output"];
    const delta = emptyDelta();
    this.#lastDelta = delta;
    if (!isObject(output)) return delta;
    if (hasUnknown(output, KNOWN_OUTPUT_KEYS)) mergeExtra(this.#outputExtra, output, KNOWN_OUTPUT_KEYS);
    if ("finish_reason" in output) {
      const reason = finalReason(output["finish_reason"]);
      if (reason !== null) {
        this.#outputFinish = reason;
        delta.finish_reason = reason;
      }
    }
    const text = output["text"];
    if (typeof text === "string") {
      this.#text ??= new Text(this.incremental);
      delta.text = this.#text.add(text);
    }
    const choices = output["choices"];
    if (Array.isArray(choices)) {
      for (let position = 0; position < choices.length; position++) {
        this.#addChoice(position, choices[position], position === 0 ? delta : emptyDelta());
      }
    }
    if (isObject(output["message"])) this.#addResearch(output["message"], delta);
    return delta;
  }

  #addChoice(position: number, choice: unknown, delta: Delta): void {
    if (!isObject(choice)) return;
    const index = Number.isInteger(choice["index"]) ? (choice["index"] as number) : position;
    let state = this.#choices.get(index);
    if (state === undefined) {
      state = new Choice(index, this.incremental);
      state.hasIndex = "index" in choice;
      this.#choices.set(index, state);
    }
    delta.index = index;
    const reason = finalReason(choice["finish_reason"]);
    if (reason !== null) {
      state.finishReason = reason;
      delta.finish_reason = reason;
    }
    if (hasUnknown(choice, KNOWN_CHOICE_KEYS)) mergeExtra(state.choiceExtra, choice, KNOWN_CHOICE_KEYS);
    const message = choice["message"];
    if (!isObject(message)) return;
    if (message["role"]) state.role = message["role"];
    const content = message["content"];
    if (typeof content === "string") delta.text += state.content.add(content);
    else if (Array.isArray(content)) {
      state.contentIsList = true;
      delta.text += this.#addParts(state, content);
    }
    if (typeof message["reasoning_content"] === "string") {
      state.hasReasoning = true;
      delta.reasoning_content = state.reasoning.add(message["reasoning_content"]);
    }
    const toolCalls = message["tool_calls"];
    if (Array.isArray(toolCalls) && toolCalls.length > 0) {
      const added: Json[] = [];
      toolCalls.forEach((fragment: unknown, pos: number) => {
        if (!isObject(fragment)) return;
        const tcIndex = Number.isInteger(fragment["index"]) ? (fragment["index"] as number) : pos;
        let call = state.toolCalls.get(tcIndex);
        if (call === undefined) {
          call = new ToolCall(tcIndex, this.incremental);
          state.toolCalls.set(tcIndex, call);
        }
        added.push(call.add(fragment));
      });
      delta.tool_calls = added;
    }
    if (hasUnknown(message, KNOWN_MESSAGE_KEYS)) mergeExtra(state.messageExtra, message, KNOWN_MESSAGE_KEYS);
  }

  #addParts(state: Choice, parts: unknown[]): string {
    const texts: string[] = [];
    const others: Json[] = [];
    for (const part of parts) {
      if (!isObject(part)) continue;
      if (typeof part["text"] === "string" && Object.keys(part).length === 1) texts.push(part["text"]);
      else others.push(part);
    }
    const joined = texts.join("");
    if (!this.incremental) {
      // The whole list is repeated each time: keep the latest non-text parts.
      state.otherParts = others.map((p) => [0, p]);
      return state.content.add(joined);
    }
    if (others.length > 0) {
      // Text in the same chunk goes before the non-text parts of that chunk.
      const before = state.content.length + joined.length;
      for (const p of others) state.otherParts.push([before, p]);
    }
    return state.content.add(joined);
  }

  #addResearch(message: Json, delta: Delta): void {
    const phase: string = message["phase"] || "";
    const content = message["content"];
    if (typeof content === "string") {
      let text = this.#drContent.get(phase);
      if (text === undefined) {
        text = new Text(this.incremental);
        this.#drContent.set(phase, text);
      }
      delta.text += text.add(content);
    }
    this.#drMessage = message;
    if (phase === "answer" && message["status"] === "finished") {
      this.#drFinished = true;
      delta.finish_reason = delta.finish_reason || "stop";
    }
  }

  /** True once the server sent its final event (a final finish_reason for every choice seen, a
   * final output.finish_reason, or deep research's answer finished). */
  get finished(): boolean {
    if (this.#outputFinish !== null || this.#drFinished) return true;
    if (this.#choices.size === 0) return false;
    for (const c of this.#choices.values()) if (c.finishReason === null) return false;
    return true;
  }

  get requestId(): string | null {
    return typeof this.#requestId === "string" ? this.#requestId : null;
  }

  /** The accumulated response in the non-streaming shape. */
  final(): Json {
    const result: Json = { ...this.#last };
    if (result["delta"] === this.#lastDelta) delete result["delta"];
    if (this.#requestId) result["request_id"] = this.#requestId;
    const lastOutput = this.#last["output"];
    const output: Json = isObject(lastOutput) ? { ...lastOutput } : {};
    Object.assign(output, this.#outputExtra);
    if (this.#text !== null) {
      output["text"] = this.#text.value();
      output["finish_reason"] = this.#outputFinish;
    } else if ("finish_reason" in output) {
      output["finish_reason"] = this.#outputFinish;
    }
    if (this.#choices.size > 0) output["choices"] = sortedValues(this.#choices).map((c) => finalChoice(c));
    if (this.#drMessage !== null) {
      const message: Json = { ...this.#drMessage };
      const text = this.#drContent.get(message["phase"] || "");
      if (text !== undefined) message["content"] = text.value();
      output["message"] = message;
    }
    if (Object.keys(output).length > 0 || "output" in result) result["output"] = output;
    return result;
  }
}

function finalChoice(state: Choice): Json {
  const message: Json = { role: state.role };
  const text = state.content.value();
  if (state.contentIsList) {
    const parts: Json[] = [];
    let pos = 0;
    for (const [offset, part] of state.otherParts) {
      if (offset > pos) {
        parts.push({ text: text.slice(pos, offset) });
        pos = offset;
      }
      parts.push(part);
    }
    if (pos < text.length) parts.push({ text: text.slice(pos) });
    message["content"] = parts;
  } else {
    message["content"] = text;
  }
  if (state.hasReasoning) message["reasoning_content"] = state.reasoning.value();
  if (state.toolCalls.size > 0) message["tool_calls"] = sortedValues(state.toolCalls).map((t) => t.final());
  Object.assign(message, state.messageExtra);
  const choice: Json = {};
  if (state.hasIndex) choice["index"] = state.index;
  choice["finish_reason"] = state.finishReason;
  choice["message"] = message;
  Object.assign(choice, state.choiceExtra);
  return choice;
}
