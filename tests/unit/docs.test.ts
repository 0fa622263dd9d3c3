// The README and docs/ name files, npm scripts and links; each must exist, so a move or a rename
// that leaves the documentation behind fails here.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const DOCS = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

/** Relative markdown links, resolved against the file that holds them (anchors and URLs left out). */
export function relativeLinks(text: string): string[] {
    return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?:|mailto:|#)/.test(l)).map((l) => l.replace(/#.*$/, ""));
}

/** `npm run NAME` invocations. */
export function npmScripts(text: string): string[] {
    return [...text.matchAll(/npm run ([a-z][a-z0-9:-]*)/g)].map((m) => m[1]!);
}

/** Paths in backticks that start at a top-level folder of this repository. */
export function repoPaths(text: string, topLevel: ReadonlySet<string>): string[] {
    return [...text.matchAll(/`([a-z][\w.-]*\/[\w./-]*)`/g)]
        .map((m) => m[1]!.replace(/\/$/, ""))
        .filter((p) => topLevel.has(p.split("/")[0]!) && !/[<>*{}]/.test(p));
}

describe("the README and docs/", () => {
    // The repository's own folders: not the ones .gitignore names (node_modules, the build's dist/),
    // which a fresh clone does not have.
    const ignored = new Set(fs.readFileSync(path.join(ROOT, ".gitignore"), "utf8").split("\n").map((l) => l.trim().replace(/\/$/, "")));
    const topLevel = new Set(fs.readdirSync(ROOT).filter((f) => !f.startsWith(".") && !ignored.has(f) && fs.statSync(path.join(ROOT, f)).isDirectory()));
    for (const doc of DOCS) {
        const text = fs.readFileSync(path.join(ROOT, doc), "utf8");
        it(`${doc}: every relative link points at a file that exists`, () => {
            const missing = relativeLinks(text).filter((l) => !fs.existsSync(path.resolve(path.dirname(path.join(ROOT, doc)), l)));
            expect(missing).toEqual([]);
        });
        it(`${doc}: every \`npm run\` names a script of package.json`, () => {
            expect(npmScripts(text).filter((s) => !(s in scripts))).toEqual([]);
        });
        it(`${doc}: every repository path it names exists`, () => {
            expect(repoPaths(text, topLevel).filter((p) => !fs.existsSync(path.join(ROOT, p)))).toEqual([]);
        });
    }

    it("the checks above can fail: a dead link, an unknown script and a missing path are each found", () => {
        expect(relativeLinks("see [x](docs/nowhere.md) and [y](https://example.com)")).toEqual(["docs/nowhere.md"]);
        expect(npmScripts("npm run no-such-script")).toEqual(["no-such-script"]);
        expect(repoPaths("`cluster/nowhere.sh` and `other/x`", new Set(["cluster"]))).toEqual(["cluster/nowhere.sh"]);
    });

    it("the README stays a short guide, with reference detail in docs/", () => {
        const lines = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n").length;
        expect(lines).toBeLessThanOrEqual(420);
    });
});
