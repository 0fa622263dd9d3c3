// The lint rules that keep the module graph a tree laid in layers: a cycle between modules, or an
// import that runs up the layers, fails `npm run lint`, type-only imports included. Shown on
// throw-away modules, linted with the project's config.
import * as fs from "node:fs";
import * as path from "node:path";
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
// Under .local/ (git- and lint-ignored), so a run cut short leaves nothing that fails `npm run lint`.
const DIR = path.join(ROOT, ".local", `lint-cycle-fixture-${process.pid}`);

const FILES: Record<string, string> = {
    "a.ts": 'import { b } from "./b";\nexport const a = (): number => b() + 1;\n',
    "b.ts": 'import { a } from "./a";\nexport const b = (): number => (a.length > 0 ? 1 : 0);\n',
    // A cycle closed by a type-only import.
    "c.ts": 'import type { Shape } from "./d";\nexport const c = (s: Shape): number => s.size;\n',
    "d.ts": 'import { c } from "./c";\nexport interface Shape { size: number }\nexport const d = (): number => c({ size: 1 });\n',
    // The cycle the manifest types once formed: an import used only for types but not marked so.
    "e.ts": 'import { Meta } from "./f";\nexport const e = (m: Meta): string => m.name;\n',
    "f.ts": 'import { e } from "./e";\nexport interface Meta { name: string }\nexport const f = (): string => e({ name: "x" });\n',
    // Two layers: low/ below high/.
    "high/top.ts": 'import { bottom } from "../low/bottom";\nexport const top = (): number => bottom + 1;\n',
    "low/bottom.ts": "export const bottom = 1;\n",
    "low/up.ts": 'import type { Top } from "../high/types";\nexport const up = (t: Top): number => t.n;\n',
    "high/types.ts": "export interface Top { n: number }\n",
    "stray/file.ts": "export const stray = 1;\n",
};

beforeAll(() => {
    for (const [name, text] of Object.entries(FILES)) {
        fs.mkdirSync(path.dirname(path.join(DIR, name)), { recursive: true });
        fs.writeFileSync(path.join(DIR, name), text);
    }
});
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

async function lint(file: string) {
    // The project's config, minus the type-aware rules: they cost seconds and judge nothing here.
    // The layers are the fixture's own: low < high, rooted at the fixture.
    const eslint = new ESLint({
        cwd: ROOT,
        ignore: false,
        overrideConfig: [
            tseslint.configs.disableTypeChecked,
            {
                rules: { "@pulumi/no-output-in-template-literal": "off", "@pulumi/no-output-instance-in-template-literal": "off" },
                settings: {
                    "progression/layers": {
                        root: DIR,
                        layers: [
                            { name: "low", paths: ["low/", "a.ts", "b.ts", "c.ts", "d.ts", "e.ts", "f.ts"] },
                            { name: "high", paths: ["high/"] },
                        ],
                    },
                },
            },
        ],
    });
    const [result] = await eslint.lintFiles([path.join(DIR, file)]);
    return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe("import rules", () => {
    it("report a cycle between two modules", async () => {
        const messages = await lint("a.ts");
        expect(messages).toContain("import-x/no-cycle: Dependency cycle detected");
        expect(messages.filter((m) => m.startsWith("progression/no-cycle"))).toEqual([
            expect.stringMatching(/^progression\/no-cycle: import cycle \(type-only imports count\): a\.ts -> b\.ts -> a\.ts\. Fix: /),
        ]);
    });

    it("report a cycle through an import used only for types but not marked `import type`", async () => {
        expect(await lint("e.ts")).toContain("import-x/no-cycle: Dependency cycle detected");
    });

    it("report a cycle closed by a type-only import, on both of its files", async () => {
        expect(await lint("c.ts")).toEqual([expect.stringMatching(/^progression\/no-cycle: import cycle \(type-only imports count\): c\.ts -> d\.ts -> c\.ts/)]);
        expect(await lint("d.ts")).toEqual([expect.stringMatching(/^progression\/no-cycle: import cycle \(type-only imports count\): d\.ts -> c\.ts -> d\.ts/)]);
    });

    it("accept an import down the layers", async () => {
        expect(await lint("high/top.ts")).toEqual([]);
    });

    it("report an import up the layers, a type-only one included", async () => {
        expect(await lint("low/up.ts")).toEqual([
            "progression/layers: low/up.ts (layer low) imports high/types.ts (layer high, above it); imports run down the layers low < high. Fix: move what it needs down into layer low or below",
        ]);
    });

    it("report a file in no layer", async () => {
        expect(await lint("stray/file.ts")).toEqual([
            "progression/layers: stray/file.ts belongs to no layer. Allowed: a path under one of the layers low < high. Fix: add its folder to LAYERS in toolchain/lint/imports.mjs",
        ]);
    });
});
