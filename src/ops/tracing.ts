// W3C trace context for jobs, and optional OpenTelemetry tracing.
//
// Always: the `traceparent` of a create is kept with the job and handed to the workers that
// claim it, so that a worker (and the server spans of its updates, which carry it) continue
// the create's trace. Only when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the standard variables) are the OpenTelemetry packages
// loaded at all: then every API request gets a server span (its parent from the request's
// `traceparent`), and each claim a span in the job's trace whose context the worker gets.
// Off, nothing here is on the request path beyond checking the header's format on a create.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JobRecord } from "../jobs/store.js";

const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The header's value if it is a valid version-00 trace context (W3C: otherwise ignore it). */
export function validTraceparent(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" && TRACEPARENT.test(value) ? value : undefined;
}

export interface Tracing {
  /** The router's onRoute hook: a server span per API request, ended when the answer is sent. */
  onRoute(operation: string, req: IncomingMessage, res: ServerResponse): void;
  /** The trace context to keep with a job this request creates: its server span's. */
  traceparentOf(req: IncomingMessage): string | undefined;
  /** A span in the job's trace for this claim; its context is what the worker continues. */
  claimed(job: JobRecord, worker: string): string | undefined;
  /** Sends the spans not yet exported. */
  shutdown(): Promise<void>;
}

/** OpenTelemetry tracing when an OTLP endpoint is configured; undefined (and nothing loaded) otherwise. */
export async function startTracing(env: NodeJS.ProcessEnv): Promise<Tracing | undefined> {
  const endpoint = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] || env["OTEL_EXPORTER_OTLP_ENDPOINT"];
  if (!endpoint || env["OTEL_SDK_DISABLED"] === "true" || env["OTEL_TRACES_EXPORTER"] === "none") return undefined;
  const [api, sdk, { OTLPTraceExporter }, { W3CTraceContextPropagator }, { resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/core"),
    import("@opentelemetry/resources"),
  ]);
  const { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, defaultTextMapGetter, defaultTextMapSetter } = api;
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ "service.name": env["OTEL_SERVICE_NAME"] || "async-jobs" }),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] || `${endpoint.replace(/\/$/, "")}/v1/traces` }),
        scheduledDelayMillis: Number(env["OTEL_BSP_SCHEDULE_DELAY"]) || 5000,
      }),
    ],
  });
  const tracer = provider.getTracer("async-jobs");
  const propagator = new W3CTraceContextPropagator();
  const SPAN = Symbol("span");
  type Traced = IncomingMessage & { [SPAN]?: ReturnType<typeof tracer.startSpan> };
  const contextOf = (span: ReturnType<typeof tracer.startSpan>) => {
    const carrier: Record<string, string> = {};
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
    return carrier["traceparent"];
  };
  return {
    onRoute(operation, req, res) {
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const span = tracer.startSpan(
        `${req.method} ${operation}`,
        { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method ?? "", "url.path": q < 0 ? url : url.slice(0, q), "operation.name": operation } },
        parent,
      );
      (req as Traced)[SPAN] = span;
      res.once("finish", () => {
        span.setAttribute("http.response.status_code", res.statusCode);
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      });
    },
    traceparentOf(req) {
      const span = (req as Traced)[SPAN];
      return span ? contextOf(span) : validTraceparent(req.headers["traceparent"]);
    },
    claimed(job, worker) {
      if (!job.traceparent) return undefined;
      const parent = propagator.extract(ROOT_CONTEXT, { traceparent: job.traceparent }, defaultTextMapGetter);
      const span = tracer.startSpan(
        "job claimed",
        { kind: SpanKind.CONSUMER, attributes: { "job.id": job.id, "job.name": job.name ?? "", "job.attempt": job.attempts, "job.worker": worker } },
        parent,
      );
      span.end();
      return contextOf(span);
    },
    shutdown: () => provider.shutdown(),
  };
}
