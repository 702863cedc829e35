/** The SSE decoder on bytes: any split, line ends, UTF-8, fields, comments, end of stream. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { SSEDecoder, type ServerSentEvent, httpStatus } from "../src/sse.js";

const enc = new TextEncoder();

function decode(bytes: Uint8Array, cuts: number[]): ServerSentEvent[] {
  const d = new SSEDecoder();
  const out: ServerSentEvent[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...d.feed(bytes.subarray(start, cut)));
    start = cut;
  }
  return [...out, ...d.end()];
}

const DASHSCOPE =
  'id:1\r\nevent:result\r\n:HTTP_STATUS/200\r\ndata:{"output":{"text":"你好"}}\r\n\r\n' +
  'id:2\r\nevent:result\r\n:HTTP_STATUS/200\r\ndata:{"output":{"text":"世界","finish_reason":"stop"}}\r\n';

test("every split point gives the same events, the last one dispatched at EOF", () => {
  const bytes = enc.encode(DASHSCOPE);
  const whole = decode(bytes, []);
  assert.equal(whole.length, 2);
  assert.deepEqual(whole[0], {
    data: '{"output":{"text":"你好"}}',
    event: "result",
    id: "1",
    retry: null,
    comments: ["HTTP_STATUS/200"],
  });
  assert.equal(httpStatus(whole[1]!), 200);
  for (let i = 1; i < bytes.length; i++) assert.deepEqual(decode(bytes, [i]), whole, `split at ${i}`);
  const each = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(decode(bytes, each), whole);
});

test("CR, LF and CRLF line ends; a CR at the end of a read pairs with the next LF", () => {
  const bytes = enc.encode("data:a\rdata:b\n\ndata:c\r\n\r\n");
  const events = decode(bytes, [7, 6 + 1 + 7 + 2 + 7]);
  assert.deepEqual(
    events.map((e) => e.data),
    ["a\nb", "c"],
  );
});

test("a final line without a line end is dropped; an event without data is not dispatched", () => {
  assert.deepEqual(decode(enc.encode("data:x\n\ndata:cut"), []).map((e) => e.data), ["x"]);
  assert.deepEqual(decode(enc.encode("event:ping\n:comment\n\n"), []), []);
});

test("id persists, retry needs digits, NUL ids are ignored, BOM removed once", () => {
  const bytes = enc.encode("\ufeffid:7\nretry:1500\ndata:a\n\nretry:x\ndata:b\n\nid:bad\0\ndata:c\n\n");
  const events = decode(bytes, [1, 2]);
  assert.deepEqual(
    events.map((e) => [e.id, e.retry, e.data]),
    [
      ["7", 1500, "a"],
      ["7", null, "b"],
      ["7", null, "c"],
    ],
  );
});

test("invalid UTF-8 becomes U+FFFD; a line of many small reads is kept whole", () => {
  const bad = new Uint8Array([...enc.encode("data:"), 0xff, ...enc.encode("\n\n")]);
  assert.equal(decode(bad, [])[0]!.data, "a".replace("a", "\ufffd"));
  const long = enc.encode(`data:${"x".repeat(100_000)}\n\n`);
  const cuts = Array.from({ length: 999 }, (_, i) => (i + 1) * 100);
  assert.equal(decode(long, cuts)[0]!.data.length, 100_000);
});
