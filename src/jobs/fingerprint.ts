import { createHash } from "node:crypto";

/** JSON with object keys sorted, so that the same body written differently compares equal. */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return "null";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
}

/** Identifies a request body for Idempotency-Key replays. */
export function fingerprint(body: unknown): string {
  return createHash("sha256").update(canonicalJson(body)).digest("base64url");
}
