// Preloaded into the server by bench/soak.ts: reports its memory over IPC every 2 s,
// heap measured after a full GC so that what remains is what is really kept.
const timer = setInterval(() => {
  globalThis.gc?.();
  const m = process.memoryUsage();
  process.send?.({ rss: m.rss, heapUsed: m.heapUsed });
}, 2000);
timer.unref();
