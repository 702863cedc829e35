// make bench, TypeScript part: the compiled modelstudio package against a bare fetch floor and
// the openai npm package, all against the same loopback bench server (bench/server.py), in one
// run. Prints one JSON object on stdout. Usage: node bench.mjs PORT [--quick]
import { performance } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const { ModelStudio } = await import(join(here, "../../generated/typescript/dist/src/index.js"));
const OpenAI = (await import("openai")).default;

const port = Number(process.argv[2]);
const quick = process.argv.includes("--quick");
const ROOT = `http://127.0.0.1:${port}`;
const NATIVE = `${ROOT}/api/v1`;
const COMPAT = `${ROOT}/compatible-mode/v1`;
const KEY = "sk-bench";
const MESSAGES = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "1+1等于多少？" },
];
const CALLS = quick ? 150 : 800;
const WARMUP = quick ? 20 : 100;
const STREAM_ROUNDS = quick ? 5 : 15;

// Request bodies as objects: the floors serialize them on every call, as the Python floor does
// (httpx `json=`) and as any caller of bare fetch must.
const nativeBody = { model: "qwen-plus", input: { messages: MESSAGES }, parameters: { result_format: "message" } };
const nativeStreamBody = {
  model: "qwen-plus",
  input: { messages: MESSAGES },
  parameters: { result_format: "message", incremental_output: true },
};
const compatBody = { model: "qwen-plus", messages: MESSAGES };
const compatStreamBody = { model: "qwen-plus", messages: MESSAGES, stream: true };
const headers = { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" };

const ms = new ModelStudio({ apiKey: KEY, baseURL: NATIVE });
const oa = new OpenAI({ apiKey: KEY, baseURL: COMPAT });

async function bareCall(url, body) {
  const r = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
  const data = JSON.parse(await r.text());
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return data;
}

async function bareStream(url, body, extra) {
  const r = await fetch(url, {
    method: "POST",
    headers: { ...headers, Accept: "text/event-stream", ...extra },
    body: JSON.stringify(body),
  });
  const decoder = new TextDecoder();
  let rest = "";
  let n = 0;
  for await (const bytes of r.body) {
    const lines = (rest + decoder.decode(bytes, { stream: true })).split("\n");
    rest = lines.pop();
    for (const line of lines) {
      if (line.startsWith("data:")) {
        const text = line.slice(5).trim();
        if (text !== "[DONE]") {
          JSON.parse(text);
          n++;
        }
      }
    }
  }
  return n;
}

const NONSTREAM = {
  "bare fetch + JSON.parse (native)": () => bareCall(`${NATIVE}/services/aigc/text-generation/generation`, nativeBody),
  "modelstudio generation.create": () =>
    ms.generation.create({ model: "qwen-plus", messages: MESSAGES, result_format: "message" }),
  "bare fetch + JSON.parse (compatible)": () => bareCall(`${COMPAT}/chat/completions`, compatBody),
  "modelstudio chat.completions.create": () => ms.chat.completions.create({ model: "qwen-plus", messages: MESSAGES }),
  "openai chat.completions.create": () => oa.chat.completions.create({ model: "qwen-plus", messages: MESSAGES }),
};

async function countStream(s) {
  let n = 0;
  for await (const chunk of s) {
    void chunk;
    n++;
  }
  return n;
}

const STREAM = {
  "bare fetch + line split + JSON.parse (native)": () =>
    bareStream(`${NATIVE}/services/aigc/text-generation/generation`, nativeStreamBody, { "X-DashScope-SSE": "enable" }),
  "modelstudio generation.create stream": async () =>
    countStream(await ms.generation.create({ model: "qwen-plus", messages: MESSAGES, result_format: "message", stream: true })),
  "bare fetch + line split + JSON.parse (compatible)": () => bareStream(`${COMPAT}/chat/completions`, compatStreamBody, {}),
  "modelstudio chat.completions.create stream": async () =>
    countStream(await ms.chat.completions.create({ model: "qwen-plus", messages: MESSAGES, stream: true })),
  "openai chat.completions.create stream": async () =>
    countStream(await oa.chat.completions.create({ model: "qwen-plus", messages: MESSAGES, stream: true })),
};

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Interleaved calls: one call of every client in turn, so that the load of a shared machine hits
// all of them alike; the median per-call time of each client is reported.
async function nonstream() {
  for (const fn of Object.values(NONSTREAM)) for (let i = 0; i < WARMUP; i++) await fn();
  const per = Object.fromEntries(Object.keys(NONSTREAM).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(NONSTREAM).map((k) => [k, 0]));
  for (let i = 0; i < CALLS; i++) {
    for (const [name, fn] of Object.entries(NONSTREAM)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await fn();
      per[name].push((performance.now() - t0) * 1000);
      const c = process.cpuUsage(c0);
      cpu[name] += c.user + c.system;
    }
  }
  return {
    wall_median_us: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, median(v)])),
    cpu_us_per_call: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / CALLS])),
  };
}

async function stream() {
  for (const fn of Object.values(STREAM)) await fn();
  const per = Object.fromEntries(Object.keys(STREAM).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(STREAM).map((k) => [k, 0]));
  const events = {};
  for (let r = 0; r < STREAM_ROUNDS; r++) {
    for (const [name, fn] of Object.entries(STREAM)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const n = await fn();
      const seconds = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      cpu[name] += c.user + c.system;
      events[name] = (events[name] ?? 0) + n;
      per[name].push(n / seconds);
    }
  }
  return {
    wall_events_per_s: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, median(v)])),
    cpu_events_per_s: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, events[k] / (v / 1e6)])),
    events_per_stream: events[Object.keys(events)[0]] / STREAM_ROUNDS,
  };
}

const result = {
  node: process.version,
  openai: JSON.parse(readFileSync(join(here, "node_modules/openai/package.json"), "utf-8")).version,
  calls: CALLS,
  stream_rounds: STREAM_ROUNDS,
  nonstream: await nonstream(),
  stream: await stream(),
};
console.log(JSON.stringify(result));
