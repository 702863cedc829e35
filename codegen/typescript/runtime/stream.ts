/**
 * `Stream`: an async iterable of typed chunks over a `text/event-stream` response.
 *
 * Each event's data is parsed as JSON, merged into the accumulator of its wire and yielded with
 * a `delta` (what the event adds, whatever `incremental_output` was). Errors, all thrown from
 * the iteration: an `event:error` or a data object with a non-empty `code` (or an
 * OpenAI-compatible `{"error": ...}`) becomes the `APIStatusError` subclass for the status of
 * its `:HTTP_STATUS/NNN` comment; data that is not a JSON object, an
 * `APIResponseValidationError`; silence longer than the stream idle timeout, `APITimeoutError`; a broken connection or a stream that ends
 * before its final event, `IncompleteStreamError`. Leaving a `for await` loop early (`break`,
 * `return`, a throw) aborts the request and releases the connection. A stream is read once.
 */

import { type Delta, Accumulator, isObject } from "./accumulate.js";
import { ChatAccumulator } from "./accumulateChat.js";
import {
  APIResponseValidationError,
  type APIStatusError,
  APITimeoutError,
  APIUserAbortError,
  IncompleteStreamError,
  makeStatusError,
} from "./errors.js";
import { type ServerSentEvent, SSEDecoder, httpStatus } from "./sse.js";

type Json = Record<string, any>;

export interface StreamInit {
  readonly accumulator: Accumulator | ChatAccumulator;
  readonly idleTimeout: number;
  readonly apiKey: string;
  readonly userSignal?: AbortSignal | null | undefined;
  /** Called once the stream ended, failed or was left (releases the caller's signal). */
  readonly onEnd?: (() => void) | undefined;
}

function events(n: number): string {
  return `${n} event${n === 1 ? "" : "s"}`;
}

function strOrNull(value: unknown): string | null {
  return typeof value === "string" && value.trim() ? value.trim() : null;
}

export class Stream<Chunk, Final> implements AsyncIterable<Chunk> {
  /** The underlying fetch `Response` (status, headers; the body is being read). */
  readonly response: Response;
  readonly #controller: AbortController;
  readonly #accumulator: Accumulator | ChatAccumulator;
  readonly #idleTimeout: number;
  readonly #apiKey: string;
  readonly #userSignal: AbortSignal | null;
  readonly #onEnd: (() => void) | undefined;
  #iterator: AsyncGenerator<Chunk, void, undefined> | null = null;
  #error: unknown = null;
  #exhausted = false;
  #final: Final | null = null;

  constructor(response: Response, controller: AbortController, init: StreamInit) {
    this.response = response;
    this.#controller = controller;
    this.#accumulator = init.accumulator;
    this.#idleTimeout = init.idleTimeout;
    this.#apiKey = init.apiKey;
    this.#userSignal = init.userSignal ?? null;
    this.#onEnd = init.onEnd;
  }

  /** The request id from the events, else from the `x-request-id` header. */
  get request_id(): string | null {
    return this.#accumulator.requestId ?? strOrNull(this.response.headers.get("x-request-id"));
  }

  [Symbol.asyncIterator](): AsyncIterator<Chunk> {
    if (this.#iterator !== null) throw new Error("This stream has already been iterated: a stream can be read once.");
    this.#iterator = this.#iterate();
    return this.#iterator;
  }

  /** Stop reading and abort the request (safe to call more than once). */
  abort(): void {
    this.#controller.abort();
  }

  /**
   * The whole answer in the non-streaming shape, reading the rest of the stream first. Throws
   * the error that ended the stream, or `IncompleteStreamError` when it was left early.
   */
  async finalResponse(): Promise<Final> {
    if (this.#iterator === null) {
      for await (const _ of this) void _;
    } else if (!this.#exhausted && this.#error === null) {
      while (!(await this.#iterator.next()).done);
    }
    if (this.#error !== null) throw this.#error;
    if (!this.#exhausted && !this.#accumulator.finished) {
      const n = this.#accumulator.events;
      throw new IncompleteStreamError(`The stream was closed before its final event (after ${events(n)}).`, {
        received_events: n,
        request_id: this.request_id,
      });
    }
    if (this.#final === null) {
      const final = this.#accumulator.final();
      if (final["request_id"] == null && this.#accumulator instanceof Accumulator) final["request_id"] = this.request_id;
      this.#final = final as Final;
    }
    return this.#final;
  }

  async *#iterate(): AsyncGenerator<Chunk, void, undefined> {
    const body = this.response.body;
    const decoder = new SSEDecoder();
    let done = false;
    let idle = false;
    const reader = body ? body.getReader() : null;
    try {
      if (reader !== null) {
        for (;;) {
          const timer = setTimeout(() => {
            idle = true;
            this.#controller.abort();
          }, this.#idleTimeout);
          let read: Awaited<ReturnType<typeof reader.read>>;
          try {
            read = await reader.read();
          } catch (error) {
            throw this.#readError(error, idle);
          } finally {
            clearTimeout(timer);
          }
          if (read.done) break;
          for (const sse of decoder.feed(read.value)) {
            const chunk = this.#chunk(sse);
            if (chunk !== null) yield chunk;
          }
        }
      }
      for (const sse of decoder.end()) {
        const chunk = this.#chunk(sse);
        if (chunk !== null) yield chunk;
      }
      this.#exhausted = true;
      done = true;
      if (!this.#accumulator.finished) {
        throw new IncompleteStreamError(null, { received_events: this.#accumulator.events, request_id: this.request_id });
      }
    } catch (error) {
      this.#error = error;
      throw error;
    } finally {
      if (!done) this.#controller.abort();
      reader?.releaseLock();
      this.#onEnd?.();
    }
  }

  #readError(error: unknown, idle: boolean): Error {
    const n = this.#accumulator.events;
    if (idle) {
      return new APITimeoutError(
        `The stream timed out: no data arrived within ${this.#idleTimeout} ms (after ${events(n)}).`,
        { request_id: this.request_id, cause: error },
      );
    }
    if (this.#userSignal?.aborted) return new APIUserAbortError(undefined, { cause: error });
    const detail = error instanceof Error ? error.message : String(error);
    return new IncompleteStreamError(
      `The connection broke before the final event of the stream (after ${events(n)}): ${detail}`,
      { received_events: n, request_id: this.request_id, cause: error },
    );
  }

  #chunk(sse: ServerSentEvent): Chunk | null {
    if (sse.event === "error") throw this.#statusError(sse, undefined);
    let data: unknown;
    try {
      data = JSON.parse(sse.data);
    } catch {
      if (sse.data.trim() === "[DONE]") {
        if (this.#accumulator instanceof ChatAccumulator) this.#accumulator.markDone();
        return null;
      }
      throw this.#unreadable(sse, `is not JSON: ${JSON.stringify(sse.data.slice(0, 200))}`);
    }
    if (!isObject(data)) throw this.#unreadable(sse, `is not a JSON object: ${JSON.stringify(sse.data.slice(0, 200))}`);
    const code = data["code"];
    if ((typeof code === "string" && code.trim()) || isObject(data["error"])) throw this.#statusError(sse, data);
    const delta: Delta = this.#accumulator.add(data);
    data["delta"] = delta;
    return data as Chunk;
  }

  /** The error for an event whose data cannot be read as a documented chunk. */
  #unreadable(sse: ServerSentEvent, what: string): APIResponseValidationError {
    return new APIResponseValidationError(
      `The stream sent an event whose data ${what}`,
      {
        path: "(the event data)",
        status: this.response.status,
        headers: this.response.headers,
        body: sse.data,
        request_id: this.request_id,
      },
      this.#apiKey,
    );
  }

  #statusError(sse: ServerSentEvent, data: Json | undefined): APIStatusError {
    if (data === undefined) {
      try {
        const parsed: unknown = JSON.parse(sse.data);
        if (isObject(parsed)) data = parsed;
      } catch {
        data = undefined;
      }
    }
    let code: string | null = null;
    let message: string | null = null;
    let requestId: string | null = null;
    if (data !== undefined) {
      const error = data["error"];
      if (isObject(error)) {
        code = strOrNull(error["code"]) ?? strOrNull(error["type"]);
        message = strOrNull(error["message"]);
      } else {
        code = strOrNull(data["code"]);
        message = strOrNull(data["message"]);
      }
      requestId = strOrNull(data["request_id"]);
    } else if (sse.data.trim()) {
      message = sse.data.trim().slice(0, 500);
    }
    return makeStatusError(
      {
        status: httpStatus(sse) ?? this.response.status,
        code,
        message: message ?? "",
        request_id: requestId ?? this.request_id,
        headers: this.response.headers,
        body: sse.data,
      },
      this.#apiKey,
    );
  }
}
