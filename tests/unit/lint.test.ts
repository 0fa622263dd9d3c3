// The lint rules that keep the module graph a tree: a cycle between two modules fails `npm run
// lint`. Shown on two throw-away modules that import each other, linted with the project's config.
import * as fs from "node:fs";
import * as path from "node:path";
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
// Under .local/ (git- and lint-ignored), so a run cut short leaves nothing that fails `npm run lint`.
const DIR = path.join(ROOT, ".local", `lint-cycle-fixture-${process.pid}`);

beforeAll(() => {
    fs.mkdirSync(DIR, { recursive: true });
    fs.writeFileSync(path.join(DIR, "a.ts"), 'import { b } from "./b";\nexport const a = (): number => b() + 1;\n');
    fs.writeFileSync(path.join(DIR, "b.ts"), 'import { a } from "./a";\nexport const b = (): number => (a.length > 0 ? 1 : 0);\n');
    fs.writeFileSync(path.join(DIR, "c.ts"), 'import type { Shape } from "./d";\nexport const c = (s: Shape): number => s.size;\n');
    fs.writeFileSync(path.join(DIR, "d.ts"), 'import { c } from "./c";\nexport interface Shape { size: number }\nexport const d = (): number => c({ size: 1 });\n');
    // The cycle the manifest types once formed: an import used only for types but not marked so.
    fs.writeFileSync(path.join(DIR, "e.ts"), 'import { Meta } from "./f";\nexport const e = (m: Meta): string => m.name;\n');
    fs.writeFileSync(path.join(DIR, "f.ts"), 'import { e } from "./e";\nexport interface Meta { name: string }\nexport const f = (): string => e({ name: "x" });\n');
});
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

async function lint(file: string) {
    // The project's config, minus the type-aware rules: they cost seconds and judge nothing here.
    const eslint = new ESLint({
        cwd: ROOT,
        ignore: false,
        overrideConfig: [
            tseslint.configs.disableTypeChecked,
            { rules: { "@pulumi/no-output-in-template-literal": "off", "@pulumi/no-output-instance-in-template-literal": "off" } },
        ],
    });
    const [result] = await eslint.lintFiles([path.join(DIR, file)]);
    return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe("import rules", () => {
    it("report a cycle between two modules", async () => {
        expect(await lint("a.ts")).toContain("import-x/no-cycle: Dependency cycle detected");
    });

    it("report a cycle through an import used only for types but not marked `import type`", async () => {
        expect(await lint("e.ts")).toContain("import-x/no-cycle: Dependency cycle detected");
    });

    it("accept a type-only import back, which is erased at run time", async () => {
        expect(await lint("d.ts")).toEqual([]);
    });
});
