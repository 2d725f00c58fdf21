// Fan-out of job change notifications to waiting long-polls, keyed by job id.
export class ChangeFeed {
  private readonly listeners = new Set<(id: string) => void>();

  subscribe(listener: (id: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(id: string): void {
    for (const l of this.listeners) l(id);
  }
}
