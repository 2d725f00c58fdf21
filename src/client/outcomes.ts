// The worker SDK's outcome reports. A worker with several jobs at once often finishes some of
// them together (a claim hands it several, quick handlers end in the same turn); sending each
// as its own PUT /tasks/{id} costs a request per job. Reports are sent one request at a time:
// those made while a request is out wait for it and then go together as one
// POST /tasks/outcomes (up to 100), each under its own lease and answered on its own. No
// timer is added: a report made while nothing is out is sent in the same turn's end.
// A lone report, and every report to a server without the batch operation (an older one:
// 404 or 405), goes as PUT /tasks/{id}, as before.
import { UnexpectedResponseError, type ApiClient } from "../../generated/client.js";
import type { Task, TaskUpdate } from "../../generated/types.js";

/** How the server answered one report: its status, and the problem's type when refused. */
export interface ReportAnswer {
  status: number;
  type?: string | undefined;
  detail?: string | undefined;
}

interface Pending {
  task: Task;
  body: TaskUpdate & { leaseToken: string };
  resolve: (a: ReportAnswer) => void;
  reject: (e: unknown) => void;
}

const BATCH_MAX = 100;

export class OutcomeReporter {
  private readonly pending: Pending[] = [];
  private sending = false;
  private batches = true;

  constructor(
    private readonly client: ApiClient,
    /** The headers a single job's update carries (its trace context). */
    private readonly headersOf: (task: Task) => Record<string, string>,
  ) {}

  /** Reports one job's update; rejects on network trouble (the caller retries). */
  report(task: Task, body: TaskUpdate & { leaseToken: string }): Promise<ReportAnswer> {
    return new Promise((resolve, reject) => {
      this.pending.push({ task, body, resolve, reject });
      if (!this.sending) {
        this.sending = true;
        setImmediate(() => void this.send());
      }
    });
  }

  private async send(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, BATCH_MAX);
      if (batch.length === 1 || !this.batches) await Promise.all(batch.map((p) => this.single(p)));
      else await this.together(batch);
    }
    this.sending = false;
  }

  private async single(p: Pending): Promise<void> {
    try {
      const r = await this.client.updateTask({ params: { id: p.task.id }, headers: this.headersOf(p.task), body: p.body, mediaType: "application/json" });
      p.resolve(r.status === 200 ? { status: 200 } : { status: r.status, type: (r.body as { type?: string }).type, detail: (r.body as { detail?: string }).detail });
    } catch (e) {
      p.reject(e);
    }
  }

  private async together(batch: Pending[]): Promise<void> {
    let r;
    try {
      r = await this.client.reportTaskOutcomes({
        params: {},
        headers: {},
        body: { outcomes: batch.map((p) => ({ id: p.task.id, ...p.body })) },
        mediaType: "application/json",
      });
    } catch (e) {
      // A server without the operation (an older one): every report from now on goes on its own.
      if (e instanceof UnexpectedResponseError && (e.status === 404 || e.status === 405)) {
        this.batches = false;
        await Promise.all(batch.map((p) => this.single(p)));
      } else for (const p of batch) p.reject(e);
      return;
    }
    if (r.status !== 200) {
      // Refused whole (a 400: this SDK sent something the server does not take): each on its own.
      await Promise.all(batch.map((p) => this.single(p)));
      return;
    }
    const results = r.body.results;
    batch.forEach((p, i) => {
      const one = results[i];
      if (!one || one.id !== p.task.id) return p.reject(new Error(`POST /tasks/outcomes answered ${results.length} results for ${batch.length} outcomes`));
      p.resolve({ status: one.status, type: one.problem?.type, detail: one.problem?.detail });
    });
  }
}
