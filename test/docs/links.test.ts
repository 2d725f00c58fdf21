// Every link in the README and in docs/ leads somewhere: a file of this repository that exists,
// and, with an #anchor, a heading of that file (GitHub's slugs); images too. Links to the web are
// not followed (CI has no network), only checked to be well formed.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const pages = ["README.md", ...readdirSync("docs").filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function headings(file: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("```")) fence = !fence;
    else if (!fence && /^#{1,6} /.test(line)) out.add(slug(line.replace(/^#+ /, "")));
  }
  return out;
}

/** The links of a page, outside code blocks and code spans. */
function links(file: string): string[] {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe("links in the README and docs/", () => {
  it("has pages to check", () => {
    expect(pages.length).toBeGreaterThan(5);
  });

  it.each(pages)("every link of %s leads somewhere", (page) => {
    const broken: string[] = [];
    for (const link of links(page)) {
      if (/^(https?:|mailto:)/.test(link)) {
        if (!URL.canParse(link)) broken.push(`${link}: not a URL`);
        continue;
      }
      const [target, anchor] = link.split("#") as [string, string | undefined];
      const file = target ? path.join(path.dirname(page), target) : page;
      if (!existsSync(file)) {
        broken.push(`${link}: no file ${file}`);
        continue;
      }
      if (anchor !== undefined && file.endsWith(".md") && !headings(file).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${file}`);
    }
    expect(broken).toEqual([]);
  });

  it("keeps the README a front door: at most about 300 lines", () => {
    expect(readFileSync("README.md", "utf8").split("\n").length).toBeLessThanOrEqual(320);
  });
});
