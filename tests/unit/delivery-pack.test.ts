// The policy pack's publishable form (policy/build.ts): one bundle of the pack and the shared code
// it runs, with only the packages policy/package.json declares left to install. The packed form
// runs outside the repository in tests/e2e/policy-packed.test.ts (npm run test:pack).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPack, type BuiltPack } from "../../policy/build";

const ROOT = path.resolve(__dirname, "../..");
let tmp: string;
let built: BuiltPack;
beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pack-build-"));
    built = await buildPack(path.join(tmp, "pack"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("policy/build.ts", () => {
    it("bundles the pack with the shared code it runs, from the repository's own files", () => {
        expect(built.files).toEqual(["PulumiPolicy.yaml", "index.js", "index.js.map", "package.json"]);
        expect(built.inputs).toEqual(
            expect.arrayContaining([
                "policy/index.ts",
                "policy/pack.ts",
                "config/environments.ts",
                "config/schema.ts",
                "kube/labels.ts",
                "netpol/index.ts",
            ]),
        );
        for (const input of built.inputs) expect(fs.existsSync(path.join(ROOT, input)), input).toBe(true);
        expect(built.inputs.filter((i) => i.startsWith("tests/") || i.includes("node_modules"))).toEqual([]);
    });

    it("leaves exactly the declared packages external, at the root's pins, for npm to install", () => {
        expect(built.externals).toEqual(["@pulumi/policy", "@pulumi/pulumi"]);
        const manifest = JSON.parse(fs.readFileSync(path.join(built.dir, "package.json"), "utf8")) as Record<string, any>;
        const policyPkg = JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "package.json"), "utf8")) as Record<string, any>;
        expect(manifest).toMatchObject({ name: policyPkg.name, version: policyPkg.version, main: "index.js", dependencies: policyPkg.dependencies });
        expect(fs.readFileSync(path.join(built.dir, "PulumiPolicy.yaml"), "utf8")).toMatch(
            /^runtime:\n {2}name: nodejs\n {2}options:\n {4}typescript: false\n/m,
        );
    });

    it("refuses to build a pack importing a package policy/package.json does not declare", async () => {
        await expect(buildPack(path.join(tmp, "undeclared"), { dependencies: { "@pulumi/policy": "1.21.0" } })).rejects.toThrow(
            "The policy pack imports '@pulumi/pulumi', which policy/package.json does not declare, so a published pack would not find it. Fix: add \"@pulumi/pulumi\" to policy/package.json's dependencies, at the version the root package.json pins.",
        );
    });
});
