// Completion push: POSTs an ended job to its callbackUrl, signed in the Standard Webhooks
// style, from the durable outbox the stores write with the job's end. At least once: a
// delivery is retried with exponential backoff until it is accepted (2xx) or too old.
import { createHmac } from "node:crypto";
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import type { Delivery, JobRecord, JobStore } from "./store.js";

export interface WebhookOptions {
  /** `whsec_<base64>` (Standard Webhooks) or any other string, used as the HMAC key. */
  secret: string;
  /** Hosts callbacks may go to; empty: any host (still never a private address unless allowed). */
  allowedHosts: string[];
  /** Whether loopback and private addresses are acceptable targets (tests, internal networks). */
  allowPrivate: boolean;
  /** Give a delivery up this long after the job ended. */
  maxAgeMs: number;
  /** First retry delay; doubles per attempt, capped at 5 minutes. */
  backoffMs: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  clock: Clock;
  logger: Logger;
  /** The job as the API shows it (the body of the push). */
  render: (job: JobRecord) => unknown;
  /** Told of each attempt's outcome (metrics). */
  onDelivery?: ((result: "delivered" | "retry" | "failed") => void) | undefined;
}

// Loopback, private, link-local, CGNAT, unspecified and unique-local ranges.
const PRIVATE = new BlockList();
for (const [net, prefix] of [["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12], ["192.168.0.0", 16]] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10]] as const) PRIVATE.addSubnet(net, prefix, "ipv6");

export function isPrivateAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, "ipv4");
  return PRIVATE.check(address, v === 4 ? "ipv4" : "ipv6");
}

/** Why a callback URL is not acceptable, or undefined when it is (checked at create time). */
export function callbackUrlProblem(raw: string, opts: Pick<WebhookOptions, "allowedHosts" | "allowPrivate">): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must be http or https";
  if (url.username || url.password) return "must not carry credentials";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (opts.allowedHosts.length && !opts.allowedHosts.includes(host)) return `host ${host} is not in the server's callback allow-list`;
  if (!opts.allowPrivate && (host === "localhost" || isPrivateAddress(host))) return "must not point at a loopback or private address";
  return undefined;
}

/** Standard Webhooks signature: HMAC-SHA256 over `id.timestamp.body`, base64, as `v1,<sig>`. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = secret.startsWith("whsec_") ? Buffer.from(secret.slice("whsec_".length), "base64") : Buffer.from(secret);
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/**
 * POSTs a JSON body signed in the Standard Webhooks style (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`); the outcome as an error message, or undefined when the receiver
 * answered 2xx. Used for completion pushes and for dispatching jobs to a backend.
 */
export async function postSigned(
  url: string,
  msg: { id: string; body: string },
  opts: { secret: string; timeoutMs: number; clock: Clock },
): Promise<string | undefined> {
  const timestamp = Math.floor(opts.clock.now() / 1000);
  try {
    const res = await fetch(url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(opts.timeoutMs),
      headers: {
        "content-type": "application/json",
        "webhook-id": msg.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": sign(opts.secret, msg.id, timestamp, msg.body),
      },
      body: msg.body,
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.status >= 200 && res.status < 300 ? undefined : `answered ${res.status}`;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Exponential backoff without jitter (deliveries are spread by their own timing), capped at 5 min. */
export function deliveryBackoff(baseMs: number, failures: number): number {
  return Math.min(baseMs * 2 ** failures, 300_000);
}

export class WebhookDispatcher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void> | undefined;

  constructor(private readonly store: JobStore, private readonly opts: WebhookOptions) {}

  start(intervalMs = 500): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick().then(
        () => undefined,
        () => undefined,
      ).finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Sends what is due; returns how many deliveries were attempted. */
  async tick(): Promise<number> {
    let due: Delivery[];
    try {
      due = await this.store.claimDeliveries(this.opts.clock.now(), this.opts.timeoutMs * 3, 20);
    } catch (err) {
      this.opts.logger.warn({ err }, "webhook outbox unavailable");
      return 0;
    }
    await Promise.all(due.map((d) => this.deliver(d)));
    return due.length;
  }

  private async deliver(d: Delivery): Promise<void> {
    const outcome = await this.attempt(d);
    this.opts.onDelivery?.(outcome.kind);
    return this.store.settleDelivery(d.id, outcome);
  }

  private async attempt(d: Delivery): Promise<Parameters<JobStore["settleDelivery"]>[1]> {
    const job = await this.store.get(d.jobId);
    if (!job) return { kind: "failed", error: "the job no longer exists" };
    let error: string | undefined;
    try {
      const host = new URL(d.url).hostname.replace(/^\[|\]$/g, "");
      // Checked again at delivery: a name may resolve to a private address (DNS rebinding).
      if (!this.opts.allowPrivate) {
        const addrs = isIP(host) ? [{ address: host }] : await lookup(host, { all: true });
        if (addrs.some((a) => isPrivateAddress(a.address))) return { kind: "failed", error: "target resolves to a private address" };
      }
      error = await postSigned(d.url, { id: d.id, body: JSON.stringify(this.opts.render(job)) }, this.opts);
    } catch (e) {
      error = (e as Error).message;
    }
    if (error === undefined) {
      this.opts.logger.info({ delivery: d.id, job: d.jobId, attempts: d.attempts + 1 }, "webhook delivered");
      return { kind: "delivered" };
    }
    const now = this.opts.clock.now();
    const at = now + deliveryBackoff(this.opts.backoffMs, d.attempts);
    if (at - d.createdAt > this.opts.maxAgeMs) {
      this.opts.logger.warn({ delivery: d.id, job: d.jobId, error }, "webhook given up");
      return { kind: "failed", error };
    }
    return { kind: "retry", at, error };
  }
}
