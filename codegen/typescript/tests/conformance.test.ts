/**
 * The conformance vectors of spec/conformance/ (the same files the Python suite runs), one test
 * per case id. The format is documented in spec/conformance/README.md.
 */

import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { Accumulator } from "../src/accumulate.js";
import { ChatAccumulator } from "../src/accumulateChat.js";
import { APIStatusError, ModelStudio, ValidationError, defaultsFor, familyFor } from "../src/index.js";
import { SSEDecoder } from "../src/sse.js";
import { REPO } from "./mock.js";

const BINDING = "typescript";
const DIR = process.env["CONFORMANCE_DIR"] ?? join(REPO, "spec/conformance");

interface Case {
  id: string;
  input: any;
  expect: any;
  skip?: Record<string, string>;
}
interface VectorFile {
  suite: string;
  format: number;
  cases: Case[];
}

function vectorFiles(): Array<[string, VectorFile]> {
  const out: Array<[string, VectorFile]> = [];
  for (const folder of ["generated", "hand-written"]) {
    const dir = join(DIR, folder);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith(".json")) out.push([`${folder}/${name}`, JSON.parse(readFileSync(join(dir, name), "utf-8"))]);
    }
  }
  return out;
}

// -- a loopback server that answers what a case scripts, and records what arrived --------------

interface Arrived {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
type Outcome = { status?: number; headers?: Record<string, string>; body?: unknown; reset?: boolean; sse?: string };

class Loopback {
  server!: Server;
  url = "";
  arrived: Arrived[] = [];
  outcomes: Outcome[] = [];

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((ok) => this.server.listen(0, "127.0.0.1", ok));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  script(outcomes: Outcome[]): void {
    this.arrived = [];
    this.outcomes = [...outcomes];
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.arrived.push({ method: req.method ?? "", path: (req.url ?? "").split("?")[0]!, headers: req.headers, body: Buffer.concat(chunks).toString("utf-8") });
    const outcome = this.outcomes.shift() ?? { status: 200 };
    if (outcome.reset) {
      req.socket.resetAndDestroy();
      return;
    }
    const headers: Record<string, string> = { "x-request-id": "rid-loopback", ...(outcome.headers ?? {}) };
    const status = outcome.status ?? 200;
    let body: string;
    if (outcome.body === undefined && status === 200) {
      const streaming = (req.headers["accept"] ?? "").includes("text/event-stream");
      const openai = (req.url ?? "").includes("/compatible-mode/");
      body = streaming ? okStream(openai) : okJSON(openai);
      headers["content-type"] ??= streaming ? "text/event-stream" : "application/json";
    } else if (typeof outcome.body === "string") {
      body = outcome.body;
    } else {
      body = JSON.stringify(outcome.body ?? {});
      if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
    }
    res.writeHead(status, headers);
    res.end(body);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}

function okJSON(openai: boolean): string {
  if (openai) {
    return JSON.stringify({ id: "c1", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
  }
  return JSON.stringify({ request_id: "r1", output: { choices: [{ finish_reason: "stop", message: { role: "assistant", content: "ok" } }], text: "ok", finish_reason: "stop" }, usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } });
}

function okStream(openai: boolean): string {
  if (openai) {
    const chunk = { id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { role: "assistant", content: "ok" }, finish_reason: "stop" }] };
    return `data: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`;
  }
  const chunk = { request_id: "r1", output: { choices: [{ finish_reason: "stop", message: { role: "assistant", content: "ok" } }], text: "ok", finish_reason: "stop" }, usage: { total_tokens: 2 } };
  return `id:1\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(chunk)}\n\n`;
}

// -- calling an operation by its vector name ------------------------------------------------------

function operation(client: ModelStudio, op: string | undefined): (args: any, options?: any) => Promise<any> {
  switch (op ?? "generation.create") {
    case "generation.create":
      return (a, o) => client.generation.create(a, o);
    case "multimodal.create":
      return (a, o) => client.multimodal.create(a, o);
    case "chat.completions.create":
      return (a, o) => client.chat.completions.create(a, o);
    default:
      throw new Error(`unknown op ${op}`);
  }
}

async function consume(result: any): Promise<void> {
  if (result && typeof result[Symbol.asyncIterator] === "function") for await (const _ of result) void _;
}

class NotSent extends Error {}

/** The call the error and retry suites make: any valid call of the operation. */
function defaultArgs(op: string | undefined, stream: boolean): Record<string, unknown> {
  const multimodal = op === "multimodal.create";
  const content = multimodal ? [{ text: "Hi" }] : "Hi";
  return { model: multimodal ? "qwen3-vl-plus" : "qwen-plus", messages: [{ role: "user", content }], stream };
}

// -- comparisons ------------------------------------------------------------------------------------

/** `expected` as a JSON subset of `actual`: objects key by key, arrays element by element. */
function assertSubset(actual: unknown, expected: unknown, where = "$"): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((e, i) => assertSubset(actual[i], e, `${where}[${i}]`));
  } else if (expected !== null && typeof expected === "object") {
    assert.ok(actual !== null && typeof actual === "object" && !Array.isArray(actual), `${where}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) assertSubset((actual as any)[k], v, `${where}.${k}`);
  } else {
    assert.deepEqual(actual, expected, `${where}`);
  }
}

function bytesOf(input: any): Uint8Array {
  if (typeof input.text === "string") return new TextEncoder().encode(input.text);
  return Uint8Array.from(Buffer.from(input.hex, "hex"));
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(", ") : v;
}

// -- the suites ---------------------------------------------------------------------------------------

const loopback = new Loopback();
const KEY = "sk-conformance";

const RUNNERS: Record<string, (c: Case) => Promise<void> | void> = {
  async validate(c) {
    const client = new ModelStudio({
      apiKey: KEY,
      baseURL: "http://127.0.0.1:9/api/v1",
      maxRetries: 0,
      fetch: () => Promise.reject(new NotSent()),
    });
    const call = operation(client, c.input.op);
    let problems: Array<{ path: string; kind: string }> | null = null;
    try {
      await call(c.input.args);
    } catch (error) {
      if (error instanceof ValidationError) {
        problems = error.problems.map((p) => ({ path: p.param, kind: p.kind }));
      } else if (!(error instanceof Error && (error.cause instanceof NotSent || error instanceof NotSent))) {
        throw error;
      }
    }
    if (c.expect.valid) {
      assert.equal(problems, null, `expected valid, got ${JSON.stringify(problems)}`);
      return;
    }
    assert.ok(problems !== null, "expected problems, the call was valid");
    const key = (p: { path: string; kind: string }) => `${p.path} (${p.kind})`;
    assert.deepEqual(
      [...new Set(problems.map(key))].sort(),
      [...new Set((c.expect.problems as Array<{ path: string; kind: string }>).map(key))].sort(),
    );
  },

  defaults(c) {
    const thinking = c.input.enable_thinking;
    assert.equal(familyFor(c.input.model).family, c.expect.family);
    assert.deepEqual(defaultsFor(c.input.model, { enableThinking: thinking }), c.expect.defaults);
  },

  async request(c) {
    loopback.script([{ status: 200 }]);
    const client = new ModelStudio({ apiKey: KEY, baseURL: `${loopback.url}/api/v1`, maxRetries: 0, workspace: c.input.client?.workspace });
    await consume(await operation(client, c.input.op)(c.input.args));
    assert.equal(loopback.arrived.length, 1);
    const got = loopback.arrived[0]!;
    const e = c.expect;
    if (e.method) assert.equal(got.method, e.method);
    if (e.path) assert.equal(got.path, e.path);
    for (const [name, value] of Object.entries(e.headers ?? {})) assert.equal(header(got.headers, name), value, `header ${name}`);
    for (const name of e.absent_headers ?? []) assert.equal(header(got.headers, name), undefined, `header ${name} must be absent`);
    if (e.body !== undefined) assert.deepEqual(JSON.parse(got.body), e.body);
  },

  sse(c) {
    const bytes = bytesOf(c.input.bytes);
    const splits: number[] =
      c.input.splits === "each-byte" ? Array.from({ length: bytes.length }, (_, i) => i + 1) : (c.input.splits ?? []);
    const decoder = new SSEDecoder();
    const events: unknown[] = [];
    let start = 0;
    for (const cut of [...splits, bytes.length]) {
      if (cut < start) continue;
      events.push(...decoder.feed(bytes.subarray(start, cut)));
      start = cut;
    }
    events.push(...decoder.end());
    const plain = events.map((e: any) => ({ data: e.data, event: e.event, id: e.id, retry: e.retry, comments: [...e.comments] }));
    assert.deepEqual(plain, c.expect.events);
  },

  accumulate(c) {
    const acc =
      c.input.wire === "openai" ? new ChatAccumulator(c.input.include_usage ?? false) : new Accumulator(c.input.incremental ?? true);
    const deltas = (c.input.chunks as any[]).map((chunk) => acc.add(structuredClone(chunk)));
    if (c.expect.deltas) {
      assert.equal(deltas.length, c.expect.deltas.length);
      c.expect.deltas.forEach((want: Record<string, unknown>, i: number) => {
        for (const [k, v] of Object.entries(want)) assert.deepEqual((deltas[i] as any)[k], v, `delta ${i}.${k}`);
      });
    }
    if (c.expect.finished !== undefined) assert.equal(acc.finished, c.expect.finished);
    if (c.expect.final !== undefined) assertSubset(acc.final(), c.expect.final);
  },

  async error(c) {
    // Served twice to a client with one retry left: a second request means it retried.
    loopback.script([c.input.response, c.input.response]);
    const delays: number[] = [];
    const client = new ModelStudio({
      apiKey: KEY,
      baseURL: `${loopback.url}/api/v1`,
      maxRetries: 1,
      sleep: async (ms) => void delays.push(ms / 1000),
    });
    let caught: unknown = null;
    try {
      await consume(await operation(client, c.input.op)(defaultArgs(c.input.op, c.input.stream ?? false)));
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof Error, "expected an error");
    const e = c.expect;
    assert.equal(caught.constructor.name, e.class);
    const status = caught as APIStatusError;
    if (e.status_code !== undefined) assert.equal(status.status, e.status_code);
    if (e.code !== undefined) assert.equal(status.code, e.code);
    if (e.message !== undefined) assert.equal(status.message, e.message);
    if (e.request_id !== undefined) assert.equal(status.request_id, e.request_id);
    if (e.retryable !== undefined) {
      assert.equal(loopback.arrived.length === 2, e.retryable, "retried");
      assert.equal(delays.length, e.retryable ? 1 : 0);
    }
  },

  async retry(c) {
    loopback.script(c.input.outcomes);
    const delays: number[] = [];
    const client = new ModelStudio({
      apiKey: KEY,
      baseURL: `${loopback.url}/api/v1`,
      maxRetries: c.input.max_retries ?? 2,
      sleep: async (ms) => void delays.push(ms / 1000),
    });
    let caught: unknown = null;
    try {
      await consume(await operation(client, c.input.op)(defaultArgs(c.input.op, false)));
    } catch (error) {
      caught = error;
    }
    const e = c.expect;
    assert.equal(loopback.arrived.length, e.attempts, "attempts");
    if (e.result === "ok") assert.equal(caught, null, `expected success, got ${String(caught)}`);
    else {
      assert.ok(caught instanceof Error, "expected an error");
      assert.equal(caught.constructor.name, e.result.class);
      if (e.result.status_code !== undefined) assert.equal((caught as APIStatusError).status, e.result.status_code);
    }
    if (e.delays) {
      assert.equal(delays.length, e.delays.length, `delays ${JSON.stringify(delays)}`);
      e.delays.forEach((b: { min: number; max: number }, i: number) => {
        assert.ok(delays[i]! >= b.min - 1e-9 && delays[i]! <= b.max + 1e-9, `delay ${i}: ${delays[i]} not in [${b.min}, ${b.max}]`);
      });
    }
  },
};

const files = vectorFiles();

describe("conformance vectors", () => {
  before(() => loopback.start());
  after(() => loopback.stop());

  // The vectors live in spec/conformance/ (written by the conformance-vectors work); where that
  // folder exists it must hold cases (the Python suite checks their counts and coverage).
  if (existsSync(DIR)) {
    test("the vector files are there", () => {
      assert.ok(files.length > 0, `no vector files under ${DIR}`);
      for (const [name, file] of files) assert.ok(file.cases.length > 0, `${name}: no cases`);
    });
  }

  const seen = new Set<string>();
  for (const [name, file] of files) {
    describe(name, () => {
      for (const c of file.cases) {
        const reason = c.skip?.[BINDING];
        test(c.id, reason ? { skip: reason } : {}, async () => {
          assert.equal(file.format, 1, "format");
          assert.ok(!seen.has(c.id), `duplicate id ${c.id}`);
          seen.add(c.id);
          const run = RUNNERS[file.suite];
          assert.ok(run, `no runner for suite ${file.suite}`);
          await run(c);
        });
      }
    });
  }
});
