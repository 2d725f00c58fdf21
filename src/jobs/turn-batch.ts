// Calls made within one turn of the event loop, run together: the stores' reads by id share a
// transaction (SQLite) or a statement (PostgreSQL) this way. Each call's promise settles with
// its own answer, or with the error of the batch it was in.
export class TurnBatch<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];

  /** `run` answers the items of one turn, in their order. */
  constructor(private readonly run: (items: T[]) => R[] | Promise<R[]>) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length === 1) setImmediate(this.flush);
    });
  }

  private readonly flush = () => {
    const batch = this.pending;
    this.pending = [];
    let answers: R[] | Promise<R[]>;
    try {
      answers = this.run(batch.map((b) => b.item));
    } catch (error) {
      for (const b of batch) b.reject(error);
      return;
    }
    const settle = (rs: R[]) => batch.forEach((b, i) => b.resolve(rs[i]!));
    if (Array.isArray(answers)) settle(answers);
    else answers.then(settle, (error: unknown) => batch.forEach((b) => b.reject(error)));
  };
}
