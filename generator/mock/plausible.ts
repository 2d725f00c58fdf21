// Values a person would expect to see, for the mock: an instance of a JSON Schema that keeps
// every facet and, where the facets leave freedom, reads like data: names, cities, emails
// under example.com, prices of a few hundred, times near now, arrays of one to three items.
// The property's name (and the type's) chooses among @faker-js/faker's generators; a pattern is
// drawn by randexp, short. Seeded: the same schema and seed give the same value. A value is
// only a candidate: the mock checks it with the spec's own validator before answering it.
// The English locale alone: importing every locale costs half a second at start.
import { faker as shared } from "@faker-js/faker/locale/en";
import type { Faker } from "@faker-js/faker";
import RandExpModule from "randexp";
import { DEFS_PREFIX, type JsonSchema } from "../model/schema.js";

// randexp is CommonJS whose types say `export default`: at run time the default import is the class.
const RandExp = ((RandExpModule as unknown as { default?: unknown }).default ?? RandExpModule) as typeof RandExpModule.default;

/** The facets read here, typed. */
type Facets = JsonSchema & {
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minItems?: number;
  maxItems?: number;
  multipleOf?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
};

/** How deep optional properties and arrays are filled before a value keeps only what is required. */
const DEPTH = 4;

interface At {
  /** The property (or parameter, header) the value is for, as written. */
  name?: string | undefined;
  /** The named type being filled, and the one it is inside: `Customer`, `Order`. */
  type?: string | undefined;
  depth: number;
}

export class Plausible {
  // One instance for the process: seeded (and its "now" set) at every draw, which is synchronous.
  private readonly faker: Faker = shared;
  private readonly refDate: Date;

  /** `now`: the reference for "near now" (times, this year's dates); the mock's start by default. */
  constructor(
    private readonly defs: Record<string, JsonSchema>,
    now: Date = new Date(),
  ) {
    // Whole days: answers stay the same all day, and still read as recent.
    this.refDate = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 12));
  }

  /** An instance of `schema` drawn with `seed`; `name`: what it is called (a property, a header). */
  value(schema: JsonSchema, seed: number, name?: string): unknown {
    this.faker.setDefaultRefDate(this.refDate);
    this.faker.seed(seed);
    return this.any(schema, { name, depth: 0 });
  }

  private resolve(s: JsonSchema, at: At): [JsonSchema, At] {
    for (let i = 0; i < 16 && typeof s.$ref === "string" && s.$ref.startsWith(DEFS_PREFIX); i++) {
      const name = s.$ref.slice(DEFS_PREFIX.length);
      const target = this.defs[name];
      if (!target) break;
      const { $ref: _ref, ...rest } = s;
      s = Object.keys(rest).length ? { ...target, ...rest } : target;
      at = { ...at, type: name };
    }
    return [s, at];
  }

  private any(schema: JsonSchema | boolean, at0: At): unknown {
    if (schema === true || schema === false) return this.words(1, 2);
    const [s, at] = this.resolve(schema, at0);
    const f = this.faker;
    if (s.const !== undefined) return s.const;
    if (Array.isArray(s.enum) && s.enum.length) return f.helpers.arrayElement(s.enum);
    if (Array.isArray(s.examples) && s.examples.length && at.depth > 0 && f.number.int(3) === 0) return f.helpers.arrayElement(s.examples);
    if (Array.isArray(s.allOf)) return this.any(merged(s, this.defs), at);
    const members = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
    if (Array.isArray(members) && members.length) {
      // A nullable value is shown with a value; a union, as one of its members.
      const concrete = members.filter((m) => m.type !== "null");
      const { anyOf: _a, oneOf: _o, ...outer } = s;
      const member = f.helpers.arrayElement(concrete.length ? concrete : members);
      return this.any(Object.keys(outer).length ? { ...outer, ...member } : member, at);
    }
    const type = Array.isArray(s.type) ? ((s.type as string[]).find((t) => t !== "null") ?? "null") : (s.type as string | undefined) ?? guessType(s);
    switch (type) {
      case "object":
        return this.object(s, at);
      case "array":
        return this.array(s, at);
      case "string":
        return this.string(s, at);
      case "integer":
        return this.number(s, at, true);
      case "number":
        return this.number(s, at, false);
      case "boolean":
        return f.datatype.boolean();
      case "null":
        return null;
      default:
        return this.words(1, 2);
    }
  }

  private object(s: JsonSchema, at: At): Record<string, unknown> {
    const props = (s.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((s.required as string[] | undefined) ?? []);
    const out: Record<string, unknown> = {};
    const max = typeof s.maxProperties === "number" ? s.maxProperties : Infinity;
    // Required first; then the optional ones, as a real answer carries them (not too deep).
    const names = [...Object.keys(props).filter((n) => required.has(n)), ...Object.keys(props).filter((n) => !required.has(n) && at.depth < DEPTH)];
    for (const name of names) {
      if (Object.keys(out).length >= max && !required.has(name)) break;
      out[name] = this.any(props[name]!, { name, type: at.type, depth: at.depth + 1 });
    }
    for (const name of required) if (!(name in out)) out[name] = this.words(1, 1);
    // A map (`{ [key: string]: T }`): a couple of entries, or as many as asked for.
    const extra = s.additionalProperties;
    const min = typeof s.minProperties === "number" ? s.minProperties : 0;
    if (!Object.keys(props).length && extra && typeof extra === "object") {
      const n = Math.min(max, Math.max(min, 2));
      for (let i = 0; Object.keys(out).length < n && i < n * 3; i++) out[this.faker.word.noun().toLowerCase()] = this.any(extra as JsonSchema, { depth: at.depth + 1, type: at.type });
    }
    return out;
  }

  private array(s: Facets, at: At): unknown[] {
    const f = this.faker;
    const min = typeof s.minItems === "number" ? s.minItems : 0;
    const max = typeof s.maxItems === "number" ? s.maxItems : Infinity;
    const prefix = Array.isArray(s.prefixItems) ? (s.prefixItems as JsonSchema[]) : [];
    // One to three items; deeper down, as few as allowed.
    const wanted = at.depth >= DEPTH ? min : Math.min(max, Math.max(min, f.number.int({ min: 1, max: 3 })));
    const out: unknown[] = [];
    const seen = new Set<string>();
    const item = { name: at.name ? singular(at.name) : undefined, type: at.type, depth: at.depth + 1 };
    for (let i = 0, tries = 0; out.length < Math.max(wanted, prefix.length) && tries < wanted * 5 + prefix.length + 5; tries++) {
      const schema = prefix[out.length] ?? (s.items as JsonSchema | undefined) ?? {};
      const v = this.any(schema, item);
      const key = JSON.stringify(v);
      if (s.uniqueItems && seen.has(key)) continue;
      seen.add(key);
      out.push(v);
      i++;
    }
    return out;
  }

  private string(s: Facets, at: At): string {
    const f = this.faker;
    const min = typeof s.minLength === "number" ? s.minLength : 0;
    const max = typeof s.maxLength === "number" ? s.maxLength : Infinity;
    const pattern = typeof s.pattern === "string" ? safeRegExp(s.pattern) : undefined;
    const fits = (v: string) => [...v].length >= min && [...v].length <= max && (!pattern || pattern.test(v));
    // What the format or the name says, when it fits every facet; then the pattern, drawn.
    for (const candidate of [byFormat(f, s.format), byName(f, at, max)]) {
      if (candidate !== undefined && fits(candidate)) return candidate;
    }
    if (pattern) {
      const r = new RandExp(pattern);
      // `+` and `*`: short; an id somewhat longer, as ids are.
      r.max = /id$/i.test(at.name ?? "") ? 10 : 3;
      r.randInt = (a: number, b: number) => f.number.int({ min: a, max: b });
      let drawn = r.gen();
      for (let i = 0; i < 5 && !fits(drawn); i++) drawn = r.gen();
      return drawn;
    }
    let text = byFormat(f, s.format) ?? byName(f, at, max) ?? this.words(1, 3);
    while ([...text].length < min) text += ` ${f.word.noun()}`;
    if ([...text].length > max) {
      // Cut at a word's end where that leaves enough.
      const cut = [...text].slice(0, max).join("");
      const word = cut.slice(0, cut.lastIndexOf(" ")).trimEnd();
      text = [...word].length >= Math.max(min, 1) ? word : cut.padEnd(min, "x");
    }
    return text;
  }

  private number(s: Facets, at: At, integer: boolean): number {
    const f = this.faker;
    const step = typeof s.multipleOf === "number" && s.multipleOf > 0 ? s.multipleOf : integer ? 1 : 0.01;
    let lo = typeof s.minimum === "number" ? s.minimum : -Infinity;
    let hi = typeof s.maximum === "number" ? s.maximum : Infinity;
    if (typeof s.exclusiveMinimum === "number") lo = Math.max(lo, s.exclusiveMinimum + step);
    if (typeof s.exclusiveMaximum === "number") hi = Math.min(hi, s.exclusiveMaximum - step);
    // A human range for what the name says, inside the facets; the facets alone if they exclude it.
    const [hlo, hhi] = humanRange(at.name, integer);
    let from = Math.max(lo, hlo);
    let to = Math.min(hi, hhi);
    if (from > to) {
      from = Number.isFinite(lo) ? lo : hi - 100 * step;
      to = Number.isFinite(hi) ? Math.min(hi, from + 100 * step) : from + 100 * step;
    }
    const first = Math.ceil(from / step - 1e-9);
    const last = Math.floor(to / step + 1e-9);
    if (last < first) return integer ? Math.ceil(from) : from;
    const k = f.number.int({ min: first, max: last });
    const decimals = Math.min(9, (String(step).split(".")[1] ?? "").length);
    return Number((k * step).toFixed(decimals));
  }

  private words(min: number, max: number): string {
    return this.faker.word.words({ count: { min, max } });
  }
}

/** Some schemas say only what they hold: `properties` means an object. */
function guessType(s: Facets): string | undefined {
  if (s.properties || s.additionalProperties || s.patternProperties) return "object";
  if (s.items || s.prefixItems) return "array";
  if (s.pattern || s.format || s.minLength !== undefined || s.maxLength !== undefined) return "string";
  if (s.minimum !== undefined || s.maximum !== undefined || s.multipleOf !== undefined) return "number";
  return undefined;
}

/** `allOf` members put together: their properties and requirements (enough for the types RAML makes). */
function merged(s: JsonSchema, defs: Record<string, JsonSchema>): JsonSchema {
  const { allOf, ...rest } = s;
  const out: JsonSchema = { ...rest };
  for (let m of allOf as JsonSchema[]) {
    for (let i = 0; i < 16 && typeof m.$ref === "string" && m.$ref.startsWith(DEFS_PREFIX); i++) m = defs[m.$ref.slice(DEFS_PREFIX.length)] ?? {};
    for (const [k, v] of Object.entries(m)) {
      if (k === "properties") out.properties = { ...((out.properties as object) ?? {}), ...(v as object) };
      else if (k === "required") out.required = [...new Set([...((out.required as string[]) ?? []), ...(v as string[])])];
      else if (out[k] === undefined) out[k] = v;
    }
  }
  return out;
}

function safeRegExp(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern);
  } catch {
    return undefined;
  }
}

/** `items` -> `item`, `addresses` -> `address`: an array's items are named after it. */
function singular(name: string): string {
  if (/ies$/i.test(name)) return name.replace(/ies$/i, "y");
  if (/(ses|xes|ches|shes)$/i.test(name)) return name.replace(/es$/i, "");
  return name.replace(/s$/i, "");
}

const pad = (n: number) => String(n).padStart(2, "0");

/** A value as the format says, or undefined when the format is not one a person reads. */
function byFormat(f: Faker, format: unknown): string | undefined {
  switch (format) {
    case "email":
    case "idn-email":
      return email(f);
    case "uri":
    case "url":
    case "iri":
    case "uri-reference":
    case "iri-reference":
      return `https://example.com/${f.helpers.slugify(f.word.words(2)).toLowerCase()}`;
    case "date-time":
      return f.date.recent({ days: 30 }).toISOString().replace(/\.\d{3}Z$/, "Z");
    case "iso-date-time":
      return f.date.recent({ days: 30 }).toISOString().slice(0, 19);
    case "date":
      return thisYear(f);
    case "time":
    case "iso-time": {
      const d = f.date.recent({ days: 1 });
      return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
    }
    case "uuid":
      return f.string.uuid();
    case "hostname":
    case "idn-hostname":
      return `${f.word.noun().toLowerCase()}.example.com`;
    case "ipv4":
      return f.internet.ipv4();
    case "ipv6":
      return f.internet.ipv6();
    case "byte":
      return Buffer.from(f.word.words(2)).toString("base64");
    default:
      return undefined;
  }
}

function email(f: Faker): string {
  return f.internet.email({ provider: f.helpers.arrayElement(["example.com", "example.org"]) }).toLowerCase();
}

function thisYear(f: Faker): string {
  const ref = f.defaultRefDate();
  const d = f.date.between({ from: new Date(Date.UTC(ref.getUTCFullYear(), 0, 1)), to: new Date(Date.UTC(ref.getUTCFullYear(), 11, 31)) });
  return d.toISOString().slice(0, 10);
}

/** The words of a name: `firstName`, `first_name`, `First-Name` -> `firstname`. */
const key = (name: string | undefined) => (name ?? "").toLowerCase().replace(/[^a-z0-9]/g, "");

/** What a property's name (or its type's) says it holds, as text; undefined when it says nothing. */
function byName(f: Faker, at: At, maxLength: number): string | undefined {
  const n = key(at.name);
  const t = key(at.type);
  const is = (...words: string[]) => words.some((w) => n === w);
  const ends = (...words: string[]) => words.some((w) => n.endsWith(w));
  if (!n) return undefined;
  if (ends("email", "mail")) return email(f);
  if (ends("url", "uri", "href", "link", "website", "homepage")) return `https://example.com/${f.helpers.slugify(f.word.words(2)).toLowerCase()}`;
  if (ends("avatar", "image", "photo", "picture", "logo", "thumbnail")) return `https://example.com/images/${f.word.noun().toLowerCase()}.jpg`;
  if (is("firstname", "givenname", "forename")) return f.person.firstName();
  if (is("lastname", "surname", "familyname")) return f.person.lastName();
  if (ends("username", "login", "handle", "nickname")) return f.internet.username();
  if (ends("company", "companyname", "organization", "organisation", "employer", "vendor", "supplier", "publisher")) return f.company.name();
  if (ends("city", "town")) return f.location.city();
  if (ends("countrycode") || (ends("country") && maxLength <= 3)) return maxLength === 3 ? f.location.countryCode("alpha-3") : f.location.countryCode("alpha-2");
  if (ends("country")) return f.location.country();
  if (is("state", "province", "region", "county")) return t.includes("address") || t.includes("location") ? f.location.state() : undefined;
  if (ends("street", "streetaddress", "address", "addressline", "line1", "address1")) return f.location.streetAddress();
  if (ends("zip", "zipcode", "postcode", "postalcode")) return f.location.zipCode();
  if (ends("phone", "phonenumber", "mobile", "telephone", "fax") || is("tel")) return f.phone.number({ style: "international" });
  if (ends("currency", "currencycode")) return f.finance.currencyCode();
  if (ends("iban")) return f.finance.iban();
  if (ends("color", "colour")) return f.color.human();
  if (ends("timezone", "tz")) return f.location.timeZone();
  if (ends("language", "lang", "locale")) return f.helpers.arrayElement(["en", "fr", "de", "es", "it", "nl"]);
  if (ends("filename")) return f.system.fileName();
  if (ends("mimetype", "contenttype", "mediatype")) return f.system.mimeType();
  if (ends("version")) return f.system.semver();
  if (ends("password", "secret")) return f.internet.password({ length: 12 });
  if (is("ip") || ends("ipaddress")) return f.internet.ipv4();
  if (ends("domain", "hostname") || is("host")) return `${f.word.noun().toLowerCase()}.example.com`;
  if (ends("uuid", "guid")) return f.string.uuid();
  // createdAt, expiresAt, placedAt (not format, seat); dates and times by name.
  if (/(ed|es)at$/.test(n) || ends("date", "time", "timestamp", "since", "until")) {
    return /date$/.test(n) && !/time/.test(n) ? thisYear(f) : f.date.recent({ days: 30 }).toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  if (is("id") || ends("id", "key", "ref", "reference", "code", "sku", "number")) return f.string.alphanumeric({ length: Math.min(maxLength, 10), casing: ends("code", "sku") ? "upper" : "lower" });
  if (is("name", "fullname", "displayname", "title") || ends("name")) {
    if (/(company|organi[sz]ation|vendor|supplier|publisher|team|group|store|shop)/.test(t + n)) return f.company.name();
    if (/(product|item|book|article|album|song|movie|course|plan|sku|category|tag|project|event)/.test(t + n) || n === "title") return f.commerce.productName();
    if (/(city|town)/.test(t)) return f.location.city();
    return f.person.fullName();
  }
  if (ends("description", "summary", "details", "about")) return f.commerce.productDescription();
  if (ends("bio", "biography")) return f.person.bio();
  if (ends("note", "notes", "comment", "message", "text", "body", "content", "reason", "detail")) return f.company.catchPhrase();
  if (ends("status", "state")) return f.helpers.arrayElement(["active", "pending", "done"]);
  if (ends("tag", "label", "keyword", "category", "genre")) return f.word.noun();
  if (ends("slug")) return f.helpers.slugify(f.word.words(2)).toLowerCase();
  return undefined;
}

/** The range a number with this name usually falls in, by name; else small and positive. */
function humanRange(name: string | undefined, integer: boolean): [number, number] {
  const n = key(name);
  const ends = (...words: string[]) => words.some((w) => n.endsWith(w));
  const is = (...words: string[]) => words.some((w) => n === w);
  if (is("lat") || ends("latitude")) return [-90, 90];
  if (is("lng", "lon", "long") || ends("longitude")) return [-180, 180];
  if (ends("year")) {
    const y = new Date().getUTCFullYear();
    return [y - 5, y];
  }
  if (ends("month")) return [1, 12];
  if (is("day")) return [1, 28];
  if (ends("hour")) return [0, 23];
  if (ends("minute", "second")) return [0, 59];
  if (is("age")) return [18, 80];
  if (ends("rating", "stars", "score", "priority")) return [1, 5];
  if (ends("percent", "percentage", "progress")) return [0, 100];
  if (ends("price", "amount", "total", "cost", "subtotal", "balance", "fee", "tax")) return [1, 500];
  if (ends("page")) return [1, 5];
  if (ends("limit", "pagesize", "perpage")) return [10, 50];
  if (ends("quantity", "qty", "count", "size", "items")) return [1, 10];
  if (ends("weight", "height", "width", "length", "depth")) return [1, 100];
  return integer ? [1, 100] : [1, 1000];
}
