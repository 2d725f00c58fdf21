// The mock's state: the items of each collection (by its concrete path, `/orders/ord_1/payments`)
// and the jobs of the async pattern; kept in a JSON file across restarts with `--state FILE`.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";

export interface MockJob {
  id: string;
  status: "IN PROGRESS" | "SUCCESS" | "FAILED" | "CANCELLED";
  start: string;
  end: string;
  result?: unknown;
}

interface Saved {
  ramlgenMockState: 1;
  seed: number;
  collections: Record<string, [string, unknown][]>;
  jobs: MockJob[];
}

export class MockState {
  /** Items by collection path, by id, in the order they were made (newest last). */
  readonly collections = new Map<string, Map<string, unknown>>();
  readonly jobs = new Map<string, MockJob>();
  /** The next seed for values the mock makes up (ids, server fields): deterministic from a fresh start. */
  seed = 1;

  constructor(private readonly file?: string | undefined) {}

  /** Reads the state file; false when there is none yet. Throws a readable error for a file that is not one. */
  load(): boolean {
    if (!this.file || !existsSync(this.file)) return false;
    let saved: Saved;
    try {
      saved = JSON.parse(readFileSync(this.file, "utf8")) as Saved;
    } catch (e) {
      throw new Error(`--state ${this.file}: not JSON (${(e as Error).message})`);
    }
    if (saved?.ramlgenMockState !== 1 || typeof saved.collections !== "object" || !Array.isArray(saved.jobs)) {
      throw new Error(`--state ${this.file}: not a state file of ramlgen's mock`);
    }
    this.clear();
    this.seed = Number(saved.seed) || 1;
    for (const [path, items] of Object.entries(saved.collections)) this.collections.set(path, new Map(items));
    for (const j of saved.jobs) this.jobs.set(j.id, j);
    return true;
  }

  /** Writes the state file (whole, then renamed over the old one: never half written). */
  save(): void {
    if (!this.file) return;
    const saved: Saved = {
      ramlgenMockState: 1,
      seed: this.seed,
      collections: Object.fromEntries([...this.collections].map(([p, items]) => [p, [...items]])),
      jobs: [...this.jobs.values()],
    };
    try {
      writeFileSync(`${this.file}.tmp`, `${JSON.stringify(saved, null, 2)}\n`);
      renameSync(`${this.file}.tmp`, this.file);
    } catch (e) {
      const { code } = e as { code?: string };
      throw new Error(`--state ${this.file}: cannot write there (${code ?? (e as Error).message}); choose a file in a folder this user may write`);
    }
  }

  clear(): void {
    this.collections.clear();
    this.jobs.clear();
    this.seed = 1;
  }

  items(path: string): Map<string, unknown> {
    let items = this.collections.get(path);
    if (!items) this.collections.set(path, (items = new Map()));
    return items;
  }

  /** Removes every collection inside an item (`/orders/ord_1/...`), as the item is deleted. */
  removeInside(itemPath: string): void {
    for (const p of [...this.collections.keys()]) if (p.startsWith(`${itemPath}/`)) this.collections.delete(p);
  }
}
