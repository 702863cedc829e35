/** Delta accumulation: the same deltas and final answer in incremental and cumulative modes. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { Accumulator } from "../src/accumulate.js";
import { ChatAccumulator } from "../src/accumulateChat.js";

function native(content: string, args: string | null, finish = "null") {
  const message: Record<string, unknown> = { role: "assistant", content };
  if (args !== null) message["tool_calls"] = [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: args } }];
  return { request_id: "r", output: { choices: [{ message, finish_reason: finish }] }, usage: { total_tokens: 3 } };
}

test("cumulative server text becomes the same deltas as incremental text", () => {
  const inc = new Accumulator(true);
  const cum = new Accumulator(false);
  const a = [native("Hel", '{"a"'), native("lo", ":1}", "tool_calls")].map((c) => inc.add(c));
  const b = [native("Hel", '{"a"'), native("Hello", '{"a":1}', "tool_calls")].map((c) => cum.add(c));
  assert.deepEqual(
    a.map((d) => d.text),
    b.map((d) => d.text),
  );
  assert.deepEqual(
    b.map((d) => d.tool_calls[0]!["function"].arguments),
    ['{"a"', ":1}"],
  );
  assert.deepEqual(inc.final(), cum.final());
  const message = inc.final()["output"]["choices"][0]["message"];
  assert.equal(message.content, "Hello");
  assert.deepEqual(message.tool_calls, [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: '{"a":1}' } }]);
  assert.ok(inc.finished);
});

test("compatible-mode tool calls merge by index; include_usage waits for the usage chunk", () => {
  const acc = new ChatAccumulator(true);
  const chunk = (delta: object, finish: string | null = null, usage: object | null = null) => ({
    id: "c",
    object: "chat.completion.chunk",
    created: 1,
    model: "qwen-plus",
    choices: finish === "usage" ? [] : [{ index: 0, delta, finish_reason: finish }],
    usage,
  });
  acc.add(chunk({ role: "assistant", tool_calls: [{ index: 0, id: "t1", type: "function", function: { name: "get", arguments: "" } }] }));
  acc.add(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }));
  acc.add(chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, "tool_calls"));
  assert.equal(acc.finished, false);
  acc.add(chunk({}, "usage", { total_tokens: 9 }));
  assert.equal(acc.finished, true);
  const final = acc.final();
  assert.equal(final["object"], "chat.completion");
  assert.deepEqual(final["choices"][0].message.tool_calls[0].function, { name: "get", arguments: '{"city":"Paris"}' });
  assert.deepEqual(final["usage"], { total_tokens: 9 });
});
