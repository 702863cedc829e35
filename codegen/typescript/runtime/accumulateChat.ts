/**
 * Accumulation of OpenAI-compatible `chat.completion.chunk` events (parsed JSON objects).
 *
 * Deltas are always incremental: `content` and `reasoning_content` carry only new text, and
 * `tool_calls` fragments are merged by their `index` (`id`, `type` and `function.name` arrive
 * once, `function.arguments` in pieces). With `stream_options.include_usage` the server sends
 * one chunk with empty `choices` and the `usage` after the final `finish_reason`; the stream
 * ends with `data: [DONE]`. The same rules as the Python binding's `_accumulate_chat` module.
 */

import { type Delta, emptyDelta, isObject } from "./accumulate.js";

type Json = Record<string, any>;

const KNOWN_CHUNK_KEYS = new Set(["id", "object", "created", "model", "choices", "usage"]);
const KNOWN_CHOICE_KEYS = new Set(["index", "delta", "finish_reason", "logprobs"]);
const KNOWN_DELTA_KEYS = new Set(["role", "content", "reasoning_content", "tool_calls"]);
const TOOL_KEYS = new Set(["index", "id", "type", "function"]);

/** Keep unknown keys; a later non-null value wins. */
function mergeExtra(into: Json, source: Json, known: Set<string>): void {
  for (const key of Object.keys(source)) {
    if (known.has(key)) continue;
    const value = source[key];
    if ((value !== null && value !== undefined) || !(key in into)) into[key] = value;
  }
}

class ToolCall {
  id = "";
  type = "";
  name = "";
  readonly arguments: string[] = [];
  readonly extra: Json = {};
  constructor(readonly index: number) {}

  add(fragment: Json): void {
    if (fragment["id"]) this.id = fragment["id"];
    if (fragment["type"]) this.type = fragment["type"];
    const fn = fragment["function"];
    if (isObject(fn)) {
      if (fn["name"]) this.name = fn["name"];
      if (typeof fn["arguments"] === "string" && fn["arguments"]) this.arguments.push(fn["arguments"]);
    }
    mergeExtra(this.extra, fragment, TOOL_KEYS);
  }

  final(): Json {
    return {
      index: this.index,
      id: this.id,
      type: this.type || "function",
      ...this.extra,
      function: { name: this.name, arguments: this.arguments.join("") },
    };
  }
}

class Choice {
  role = "assistant";
  readonly content: string[] = [];
  hasContent = false;
  readonly reasoning: string[] = [];
  hasReasoning = false;
  readonly toolCalls = new Map<number, ToolCall>();
  finishReason: string | null = null;
  logprobs: any = null;
  readonly extra: Json = {};
  readonly messageExtra: Json = {};
  constructor(readonly index: number) {}

  final(): Json {
    const message: Json = { role: this.role, content: this.hasContent ? this.content.join("") : null };
    if (this.hasReasoning) message["reasoning_content"] = this.reasoning.join("");
    if (this.toolCalls.size > 0) {
      message["tool_calls"] = [...this.toolCalls.keys()]
        .sort((a, b) => a - b)
        .map((k) => this.toolCalls.get(k)!.final());
    }
    Object.assign(message, this.messageExtra);
    return { index: this.index, message, finish_reason: this.finishReason, logprobs: this.logprobs, ...this.extra };
  }
}

/** Merge `chat.completion.chunk` events; `add` returns the `Delta` of each. */
export class ChatAccumulator {
  readonly #choices = new Map<number, Choice>();
  readonly #top: Json = {};
  #usage: unknown = null;
  #hasUsage = false;
  #done = false;
  #requestId: unknown = null;
  events = 0;

  /** `includeUsage`: the request asked for the usage chunk, so the stream is complete only
   * once it arrived (or `[DONE]` was seen). */
  constructor(readonly includeUsage = false) {}

  add(chunk: Json): Delta {
    this.events++;
    for (const key of ["id", "created", "model"]) {
      const value = chunk[key];
      if (value !== null && value !== undefined) this.#top[key] = value;
    }
    if (!this.#requestId) this.#requestId = chunk["request_id"];
    mergeExtra(this.#top, chunk, KNOWN_CHUNK_KEYS);
    const usage = chunk["usage"];
    if (usage !== null && usage !== undefined) {
      this.#usage = usage;
      this.#hasUsage = true;
    }
    const delta = emptyDelta();
    const choices = chunk["choices"];
    if (Array.isArray(choices)) {
      choices.forEach((choice: unknown, position: number) => {
        if (isObject(choice)) this.#addChoice(position, choice, position === 0 ? delta : emptyDelta());
      });
    }
    return delta;
  }

  #addChoice(position: number, choice: Json, delta: Delta): void {
    const index = Number.isInteger(choice["index"]) ? (choice["index"] as number) : position;
    let state = this.#choices.get(index);
    if (state === undefined) {
      state = new Choice(index);
      this.#choices.set(index, state);
    }
    delta.index = index;
    const reason = choice["finish_reason"];
    if (typeof reason === "string" && reason) state.finishReason = delta.finish_reason = reason;
    const logprobs = choice["logprobs"];
    if (isObject(logprobs)) {
      if (isObject(state.logprobs)) {
        for (const [key, value] of Object.entries(logprobs)) {
          const old = state.logprobs[key];
          state.logprobs[key] = Array.isArray(old) && Array.isArray(value) ? [...old, ...value] : value;
        }
      } else {
        state.logprobs = Object.fromEntries(
          Object.entries(logprobs).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]),
        );
      }
    }
    mergeExtra(state.extra, choice, KNOWN_CHOICE_KEYS);
    const message = choice["delta"];
    if (!isObject(message)) return;
    if (typeof message["role"] === "string" && message["role"]) state.role = message["role"];
    const content = message["content"];
    if (typeof content === "string") {
      state.hasContent = true;
      if (content) {
        state.content.push(content);
        delta.text = content;
      }
    }
    const reasoning = message["reasoning_content"];
    if (typeof reasoning === "string") {
      state.hasReasoning = true;
      if (reasoning) {
        state.reasoning.push(reasoning);
        delta.reasoning_content = reasoning;
      }
    }
    const toolCalls = message["tool_calls"];
    if (Array.isArray(toolCalls) && toolCalls.length > 0) {
      const added: Json[] = [];
      toolCalls.forEach((fragment: unknown, pos: number) => {
        if (!isObject(fragment)) return;
        const tcIndex = Number.isInteger(fragment["index"]) ? (fragment["index"] as number) : pos;
        let call = state.toolCalls.get(tcIndex);
        if (call === undefined) {
          call = new ToolCall(tcIndex);
          state.toolCalls.set(tcIndex, call);
        }
        call.add(fragment);
        added.push("index" in fragment ? fragment : { index: tcIndex, ...fragment });
      });
      delta.tool_calls = added;
    }
    mergeExtra(state.messageExtra, message, KNOWN_DELTA_KEYS);
  }

  /** The server sent `data: [DONE]`: the stream ended as the protocol says it should. */
  markDone(): void {
    this.#done = true;
  }

  get finished(): boolean {
    if (this.#done) return true;
    if (this.#choices.size === 0) return false;
    for (const c of this.#choices.values()) if (c.finishReason === null) return false;
    return this.#hasUsage || !this.includeUsage;
  }

  get requestId(): string | null {
    return typeof this.#requestId === "string" ? this.#requestId : null;
  }

  /** The accumulated answer as a non-streamed `chat.completion` object. */
  final(): Json {
    const result: Json = {
      id: this.#top["id"] ?? null,
      object: "chat.completion",
      created: this.#top["created"] ?? null,
      model: this.#top["model"] ?? null,
    };
    for (const [key, value] of Object.entries(this.#top)) {
      if (!(key in result) && key !== "object") result[key] = value;
    }
    result["choices"] = [...this.#choices.keys()].sort((a, b) => a - b).map((k) => this.#choices.get(k)!.final());
    result["usage"] = this.#usage;
    return result;
  }
}
