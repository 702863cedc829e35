/**
 * Incremental Server-Sent Events decoder (WHATWG "event stream interpretation"), on bytes.
 *
 * - Reads of any size: a read may end inside a CRLF or inside a multi-byte UTF-8 character.
 *   Line ends are CR, LF or CRLF; bytes are decoded one complete line at a time (invalid UTF-8
 *   becomes U+FFFD). A UTF-8 byte-order mark at the very start is removed once.
 * - `data` lines are joined with "\n"; `event` sets the type ("message" when absent); `id` sets
 *   the last event id unless it contains NUL, and persists across events; `retry` is kept only
 *   when it is ASCII digits; one space after the colon is removed; unknown fields are ignored.
 * - Comments (`:...`) are kept on the event they precede: DashScope sends its status as
 *   `:HTTP_STATUS/200`. An event without any `data` line is not dispatched.
 * - End of stream (`end()`): a pending event whose lines were complete is dispatched even
 *   without the final blank line (DashScope closes right after its last event); a final line
 *   with no line end at all is discarded, since a dropped connection may have cut it.
 */

const LF = 0x0a;
const CR = 0x0d;

/** One dispatched event. */
export interface ServerSentEvent {
  readonly data: string;
  readonly event: string;
  readonly id: string | null;
  readonly retry: number | null;
  readonly comments: readonly string[];
}

/** The status DashScope puts in a `:HTTP_STATUS/NNN` comment, or null. */
export function httpStatus(event: ServerSentEvent): number | null {
  for (const comment of event.comments) {
    const text = comment.trim();
    if (text.startsWith("HTTP_STATUS/")) {
      const digits = text.slice(12);
      if (/^[0-9]+$/.test(digits)) return Number(digits);
    }
  }
  return null;
}

const EMPTY: readonly string[] = Object.freeze([]);

/** Byte-level incremental decoder: `feed(chunk)` per read, `end()` at EOF. */
export class SSEDecoder {
  // Bytes of an unfinished line, one piece per read (joined once the line ends: linear time).
  #parts: Uint8Array[] = [];
  #bomDone = false;
  #skipLF = false;
  #data: string[] = [];
  #event = "";
  #retry: number | null = null;
  #comments: string[] | null = null;
  readonly #decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  /** The last event id set by the server (persists across events), or null. */
  lastEventId: string | null = null;
  /** The last valid `retry` value seen (reconnection time in ms), or null. */
  retry: number | null = null;

  /** Decode one read; return the events it completed (often none or one). */
  feed(chunk: Uint8Array): ServerSentEvent[] {
    if (chunk.length === 0) return [];
    if (this.#skipLF) {
      this.#skipLF = false;
      if (chunk[0] === LF) {
        chunk = chunk.subarray(1);
        if (chunk.length === 0) return [];
      }
    }
    if (!this.#bomDone) {
      const joined = this.#take(chunk);
      if (joined.length < 3 && isBomPrefix(joined)) {
        this.#parts.push(joined.slice());
        return [];
      }
      this.#bomDone = true;
      chunk = joined.length >= 3 && joined[0] === 0xef && joined[1] === 0xbb && joined[2] === 0xbf ? joined.subarray(3) : joined;
      if (chunk.length === 0) return [];
    }
    const events: ServerSentEvent[] = [];
    if (chunk.indexOf(CR) < 0) {
      // The common read: LF line ends only. Decode everything up to the last LF at once (an LF
      // byte never ends inside a UTF-8 character), keep the rest for the next read.
      const last = chunk.lastIndexOf(LF);
      if (last < 0) {
        this.#parts.push(chunk.slice());
        return events;
      }
      const text = this.#decoder.decode(this.#take(chunk.subarray(0, last)));
      if (last + 1 < chunk.length) this.#parts.push(chunk.slice(last + 1));
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        if (nl < 0) {
          this.#line(text.slice(start), events);
          break;
        }
        this.#line(text.slice(start, nl), events);
        start = nl + 1;
      }
      return events;
    }
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== LF && b !== CR) continue;
      this.#line(this.#decoder.decode(this.#take(chunk.subarray(start, i))), events);
      if (b === CR) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === LF) i++;
        } else {
          this.#skipLF = true;
        }
      }
      start = i + 1;
    }
    if (start < chunk.length) this.#parts.push(chunk.slice(start));
    return events;
  }

  /** The pending bytes followed by `tail`, as one array; nothing is pending after. */
  #take(tail: Uint8Array): Uint8Array {
    if (this.#parts.length === 0) return tail;
    const parts = this.#parts;
    parts.push(tail);
    this.#parts = [];
    let size = 0;
    for (const p of parts) size += p.length;
    const out = new Uint8Array(size);
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  /** Signal EOF; return a final pending event that has data (see the module doc). */
  end(): ServerSentEvent[] {
    this.#parts = [];
    this.#bomDone = true;
    this.#skipLF = false;
    const events: ServerSentEvent[] = [];
    this.#line("", events);
    return events;
  }

  #line(line: string, events: ServerSentEvent[]): void {
    if (line.length === 0) {
      if (this.#data.length > 0) {
        const data = this.#data.length === 1 ? this.#data[0]! : this.#data.join("\n");
        events.push({
          data,
          event: this.#event || "message",
          id: this.lastEventId,
          retry: this.#retry,
          comments: this.#comments ?? EMPTY,
        });
        this.#data = [];
      }
      this.#event = "";
      this.#retry = null;
      this.#comments = null;
      return;
    }
    const colon = line.indexOf(":");
    let name: string;
    let value: string;
    if (colon < 0) {
      name = line;
      value = "";
    } else {
      name = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 0x20 ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    if (name === "data") this.#data.push(value);
    else if (colon === 0) (this.#comments ??= []).push(line.slice(1));
    else if (name === "id") {
      if (!value.includes("\0")) this.lastEventId = value;
    } else if (name === "event") this.#event = value;
    else if (name === "retry" && /^[0-9]+$/.test(value)) this.#retry = this.retry = Number(value);
  }
}

function isBomPrefix(bytes: Uint8Array): boolean {
  const bom = [0xef, 0xbb, 0xbf];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== bom[i]) return false;
  return true;
}
