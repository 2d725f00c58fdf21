// raml-1-parser's JSON output, as the reader passes it on (no types of the parser's own), and
// the key by which an example is found again in the spec's text.
export type RamlJson = any;

/** Where an example is declared, as `locateExamples` (raml.ts) finds it again: `type <Name> [name]` or `<METHOD> <path> [code] [media] [name]`. */
export function exampleKey(ctx: { type?: string; resource?: string; method?: string; code?: string; media?: string }, name?: string): string {
  const base = ctx.type !== undefined
    ? `type ${ctx.type}`
    : [ctx.method?.toUpperCase(), ctx.resource, ctx.code, ctx.media].filter((x) => x !== undefined).join(" ");
  return name ? `${base} ${name}` : base;
}
