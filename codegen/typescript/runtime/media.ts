/**
 * Media in request bodies: the limits of the spec's per-model table and of the vision guide that
 * can be checked without reading a file (the same rules as the Python binding's `_media`).
 *
 * This binding sends no local files: a `file://` source is reported, pass an http(s)://, data:
 * or oss:// URL instead.
 */

import { Problem, isObject } from "./checks.js";
import { cite } from "./docsPages.js";
import type { ModelFamily } from "./families.js";
import { UNIVERSAL_LIMITS } from "./mediaLimits.js";

const IMAGE_DOCS = cite("vision-guide", "Limits: Image limits");
const FORMAT_DOCS = cite("vision-guide", "Limits: Supported image formats");
const VIDEO_DOCS = cite("vision-guide", "Limits: Video limits");
const PIXELS_DOCS = cite("qwen-api-reference", "messages: user min_pixels / max_pixels");
const FPS_DOCS = cite("qwen-api-reference", "fps") + "; " + cite("vision-guide", "Video understanding");
const SOURCE_DOCS = cite("vision-guide", "File input methods");
const COMPATIBLE_SOURCE_DOCS = cite("vision-guide", "File input methods (local file path: DashScope SDK only)");
const ENDPOINT_DOCS = cite("qwen-api-reference", "Image input") + "; " + cite("vision-guide", "Getting started");

const MB = 1048576;
const MEDIA_KEYS = ["image", "video", "audio"] as const;
const IMAGE_FORMATS: Record<string, string> = {
  "image/bmp": "BMP",
  "image/jpeg": "JPEG",
  "image/png": "PNG",
  "image/tiff": "TIFF",
  "image/webp": "WEBP",
  "image/heic": "HEIC",
};

interface Counts {
  urlImages: number;
  base64Images: number;
  videos: number;
  firstImage: string;
  firstBase64: string;
  firstVideo: string;
}

function limit(row: ModelFamily, name: string): any {
  const value = row.limits[name];
  return value !== null && value !== undefined ? value : UNIVERSAL_LIMITS[name];
}

function mb(n: number): string {
  return `${(n / MB).toFixed(1)} MB`;
}

function isInt(value: unknown): value is number {
  return Number.isInteger(value);
}

/** (path, part) for every object part of every message's list content. */
function contentParts(body: Record<string, any>): Array<[string, Record<string, any>]> {
  const messages = isObject(body["input"]) ? body["input"]["messages"] : undefined;
  const out: Array<[string, Record<string, any>]> = [];
  if (!Array.isArray(messages)) return out;
  messages.forEach((message: unknown, i: number) => {
    const content = isObject(message) ? message["content"] : undefined;
    if (!Array.isArray(content)) return;
    content.forEach((part: unknown, j: number) => {
      if (isObject(part)) out.push([`input.messages[${i}].content[${j}]`, part]);
    });
  });
  return out;
}

/** Every broken media limit of a native request body, for the model's table row. */
export function mediaProblems(body: Record<string, any>, endpoint: string, row: ModelFamily | null): Problem[] {
  const problems: Problem[] = [];
  if (endpoint === "compatible") {
    if (row !== null) checkCompatible(body, row, problems);
    return problems;
  }
  if (endpoint !== "text-generation" && endpoint !== "multimodal-generation") return problems;
  const parts = contentParts(body);
  if (parts.length === 0) return problems;
  const counts: Counts = { urlImages: 0, base64Images: 0, videos: 0, firstImage: "", firstBase64: "", firstVideo: "" };
  for (const [path, part] of parts) {
    const kinds = MEDIA_KEYS.filter((key) => key in part);
    if (kinds.length === 0) continue;
    if (endpoint === "text-generation") {
      const rule = "image, video and audio parts are served by client.multimodal.create";
      problems.push(new Problem(`${path}.${kinds[0]}`, part[kinds[0]!], rule, ENDPOINT_DOCS, "media"));
      continue;
    }
    if (row !== null) checkPartNumbers(path, part, row, problems);
    for (const key of kinds) {
      const value = part[key];
      const where = `${path}.${key}`;
      if (key === "video" && Array.isArray(value)) {
        checkFrames(where, value, row, problems);
        const frameCounts: Counts = { ...counts, urlImages: 0, base64Images: 0, videos: 0 };
        value.forEach((frame: unknown, n: number) => {
          if (typeof frame === "string") checkSource(`${where}[${n}]`, frame, "image", row, frameCounts, problems);
        });
      } else if (typeof value === "string") {
        checkSource(where, value, key, row, counts, problems);
      }
    }
  }
  if (row !== null) checkCounts(counts, row, problems);
  return problems;
}

function checkPartNumbers(path: string, part: Record<string, any>, row: ModelFamily, out: Problem[]): void {
  const lo = part["min_pixels"];
  const hi = part["max_pixels"];
  const floor = row.limits["min_pixels_min"];
  const ceiling = row.limits["max_pixels_max"];
  if (isInt(lo) && isInt(floor) && lo < floor) {
    out.push(new Problem(`${path}.min_pixels`, lo, `must be >= ${floor} for this model (min_pixels_min)`, PIXELS_DOCS, "media"));
  }
  if (isInt(hi) && isInt(ceiling) && hi > ceiling) {
    out.push(new Problem(`${path}.max_pixels`, hi, `must be <= ${ceiling} for this model (max_pixels_max)`, PIXELS_DOCS, "media"));
  }
  if (isInt(lo) && isInt(hi) && lo > hi) {
    out.push(new Problem(`${path}.min_pixels`, lo, `must be <= max_pixels (${hi})`, PIXELS_DOCS, "media"));
  }
  const fps = part["fps"];
  if (typeof fps === "number") {
    const fmin = row.limits["fps_min"] as number | undefined | null;
    const fmax = row.limits["fps_max"] as number | undefined | null;
    if ((fmin != null && fps < fmin) || (fmax != null && fps > fmax)) {
      const rule = `must be within [${fmin ?? "None"}, ${fmax ?? "None"}] for this model (fps_min/fps_max)`;
      out.push(new Problem(`${path}.fps`, fps, rule, FPS_DOCS, "media"));
    }
  }
}

function checkFrames(where: string, frames: unknown[], row: ModelFamily | null, out: Problem[]): void {
  if (row === null) return;
  const lo = limit(row, "frames_min") as number | undefined;
  const hi = row.limits["frames_max"] as number | undefined | null;
  const n = frames.length;
  if ((lo != null && n < lo) || (hi != null && n > hi)) {
    const bounds = `at least ${lo}` + (hi != null ? ` and at most ${hi}` : "");
    const rule = `a frame list has ${n} images; this model takes ${bounds} (frames_min/frames_max)`;
    out.push(new Problem(where, `<${n} frames>`, rule, VIDEO_DOCS, "media"));
  }
}

function checkSource(
  where: string,
  url: string,
  kind: string,
  row: ModelFamily | null,
  counts: Counts,
  out: Problem[],
): void {
  if (kind === "video") {
    counts.videos++;
    counts.firstVideo ||= where;
  }
  const lowered = url.slice(0, 8).toLowerCase();
  if (lowered.startsWith("file://")) {
    const rule = "is a local file, which this binding does not send: pass an http(s)://, data: or oss:// URL";
    out.push(new Problem(where, url, rule, SOURCE_DOCS, "media"));
    return;
  }
  if (!["http://", "https://", "data:", "oss://"].some((p) => lowered.startsWith(p))) {
    out.push(new Problem(where, url, "must be an http(s)://, data: or oss:// URL", SOURCE_DOCS, "media"));
    return;
  }
  if (lowered.startsWith("data:")) {
    checkDataURL(where, url, kind, row, counts, out);
    return;
  }
  if (kind === "image") {
    counts.urlImages++;
    counts.firstImage ||= where;
  }
}

function checkFormat(where: string, url: string, mime: string, out: Problem[]): void {
  if (!(mime in IMAGE_FORMATS)) {
    const names = Object.values(IMAGE_FORMATS).join(", ");
    out.push(new Problem(where, url, `image format ${mime} is not supported; supported image formats: ${names}`, FORMAT_DOCS, "media"));
  }
}

function checkDataURL(where: string, url: string, kind: string, row: ModelFamily | null, counts: Counts, out: Problem[]): void {
  const comma = url.indexOf(",");
  const header = comma < 0 ? url : url.slice(0, comma);
  const payload = comma < 0 ? "" : url.slice(comma + 1);
  if (kind === "image") {
    counts.base64Images++;
    counts.firstBase64 ||= where;
    const mime = (header.slice(5).split(";")[0] ?? "").toLowerCase();
    if (mime) checkFormat(where, url, mime === "image/jpg" ? "image/jpeg" : mime, out);
  }
  if (row === null || kind === "audio") return;
  const cap = limit(row, `${kind}_base64_bytes_max`) as number;
  const size = payload.length;
  const tooBig = kind === "video" ? size >= cap : size > cap;
  if (tooBig) {
    const bound = kind === "video" ? "less than" : "at most";
    const rule = `the Base64 string is ${mb(size)}; it must be ${bound} ${mb(cap)} (${kind}_base64_bytes_max)`;
    out.push(new Problem(where, url, rule, kind === "video" ? VIDEO_DOCS : IMAGE_DOCS, "media"));
  }
}

function checkCounts(counts: Counts, row: ModelFamily, out: Problem[]): void {
  const imagesMax = row.limits["images_max"];
  if (isInt(imagesMax) && counts.urlImages > imagesMax) {
    const rule = `${counts.urlImages} images by URL or path; at most ${imagesMax} (images_max)`;
    out.push(new Problem(counts.firstImage, `<${counts.urlImages} images>`, rule, IMAGE_DOCS, "media"));
  }
  const b64Max = limit(row, "images_base64_max") as number;
  if (counts.base64Images > b64Max) {
    const rule = `${counts.base64Images} Base64 images; at most ${b64Max} (images_base64_max)`;
    out.push(new Problem(counts.firstBase64, `<${counts.base64Images} images>`, rule, IMAGE_DOCS, "media"));
  }
  const videosMax = limit(row, "videos_max") as number;
  if (counts.videos > videosMax) {
    const rule = `${counts.videos} videos; at most ${videosMax} (videos_max)`;
    out.push(new Problem(counts.firstVideo, `<${counts.videos} videos>`, rule, VIDEO_DOCS, "media"));
  }
}

function newCounts(): Counts {
  return { urlImages: 0, base64Images: 0, videos: 0, firstImage: "", firstBase64: "", firstVideo: "" };
}

/** The same limits on the OpenAI-compatible endpoint, whose parts are typed (`image_url`,
 * `video_url`, `video` frame lists) and take only URLs and data URLs. */
function checkCompatible(body: Record<string, any>, row: ModelFamily, out: Problem[]): void {
  const counts = newCounts();
  const messages = body["messages"];
  if (!Array.isArray(messages)) return;
  messages.forEach((message: unknown, i: number) => {
    const content = isObject(message) ? message["content"] : undefined;
    if (!Array.isArray(content)) return;
    content.forEach((part: unknown, j: number) => {
      if (!isObject(part)) return;
      const path = `messages[${i}].content[${j}]`;
      const kind = part["type"];
      if (kind !== "image_url" && kind !== "video_url" && kind !== "video") return;
      checkPartNumbers(path, part, row, out);
      if (kind === "video") {
        const frames = part["video"];
        if (!Array.isArray(frames)) return;
        checkFrames(`${path}.video`, frames, row, out);
        const frameCounts = newCounts();
        frames.forEach((frame: unknown, n: number) => {
          if (typeof frame === "string") checkRemote(`${path}.video[${n}]`, frame, "image", row, frameCounts, out);
        });
        return;
      }
      const holder = part[kind];
      const url = isObject(holder) ? holder["url"] : undefined;
      if (typeof url === "string") checkRemote(`${path}.${kind}.url`, url, kind === "image_url" ? "image" : "video", row, counts, out);
    });
  });
  checkCounts(counts, row, out);
}

/** A source of the compatible endpoint: an http(s) URL or a data URL, never a local file. */
function checkRemote(where: string, url: string, kind: string, row: ModelFamily, counts: Counts, out: Problem[]): void {
  if (kind === "video") {
    counts.videos++;
    counts.firstVideo ||= where;
  }
  const lowered = url.slice(0, 8).toLowerCase();
  if (lowered.startsWith("data:")) {
    checkDataURL(where, url, kind, row, counts, out);
    return;
  }
  if (!lowered.startsWith("http://") && !lowered.startsWith("https://")) {
    const rule = "the compatible mode takes an http(s) URL or a data: URL (local files: DashScope SDK only)";
    out.push(new Problem(where, url, rule, COMPATIBLE_SOURCE_DOCS, "media"));
    return;
  }
  if (kind === "image") {
    counts.urlImages++;
    counts.firstImage ||= where;
  }
}
