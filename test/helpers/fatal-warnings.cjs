// Preloaded (`node --require`) into processes under test: any process warning (a listener
// leak's MaxListenersExceededWarning, say) ends the process with code 3, naming it.
process.on("warning", (w) => {
  process.stderr.write(`FATAL WARNING ${w.name}: ${w.message}\n`);
  process.exit(3);
});
