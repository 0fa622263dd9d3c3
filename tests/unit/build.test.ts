// build/compile.js, the program's ahead-of-time build, on a scratch project: what it writes, when
// it builds again, and what a source that does not compile reports.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";

interface Where {
    root: string;
    dist?: string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const compile = require("../../build/compile") as {
    ENTRIES: Record<string, string>;
    staleReason(where?: Where): string | undefined;
    build(where?: Where): void;
    ensureBuilt(where?: Where): string | undefined;
};

let root: string;
beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "build-"));
    const write = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        fs.writeFileSync(path.join(root, rel), text);
    };
    write("lib/answer.ts", "export const answer: number = 42;\n");
    write("index.ts", 'import { answer } from "./lib/answer";\nexport = async () => ({ answer, root: require("node:path").resolve(__dirname, "..") });\n');
    for (const src of Object.values(compile.ENTRIES).filter((s) => s !== "index.ts")) write(src, "export const logic = { name: 'x' };\n");
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe("the program's build", () => {
    it("writes one bundle per entry, one folder below the root, that runs without a TypeScript loader", async () => {
        expect(compile.staleReason({ root })).toBe("dist/ has not been built");
        expect(compile.ensureBuilt({ root })).toBe("dist/ has not been built");
        for (const name of Object.keys(compile.ENTRIES)) expect(fs.existsSync(path.join(root, "dist", `${name}.js`)), name).toBe(true);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require(path.join(root, "dist", "index.js")) as () => Promise<{ answer: number; root: string }>;
        // __dirname/.. in the bundle is the project root, as it is in a source one folder down.
        expect(await program()).toEqual({ answer: 42, root });
        const record = JSON.parse(fs.readFileSync(path.join(root, "dist", "build.json"), "utf8")) as { inputs: Record<string, string> };
        expect(Object.keys(record.inputs)).toEqual(expect.arrayContaining(["index.ts", "lib/answer.ts", "smoke/provider.ts"]));
    });

    it("is current after a build, and stale when any input, the builder's record or a bundle changes", () => {
        compile.build({ root });
        expect(compile.ensureBuilt({ root })).toBeUndefined();

        fs.writeFileSync(path.join(root, "lib", "answer.ts"), "export const answer: number = 43;\n");
        expect(compile.staleReason({ root })).toBe("lib/answer.ts changed");
        expect(compile.ensureBuilt({ root })).toBe("lib/answer.ts changed");
        expect(fs.readFileSync(path.join(root, "dist", "index.js"), "utf8")).toContain("43");
        expect(compile.staleReason({ root })).toBeUndefined();

        // Touching a file without changing it is not a change.
        const now = new Date();
        fs.utimesSync(path.join(root, "index.ts"), now, now);
        expect(compile.staleReason({ root })).toBeUndefined();

        fs.rmSync(path.join(root, "dist", "provider-switch.js"));
        expect(compile.staleReason({ root })).toBe("dist/provider-switch.js is missing");
        compile.build({ root });

        fs.rmSync(path.join(root, "lib", "answer.ts"));
        expect(compile.staleReason({ root })).toBe("lib/answer.ts is gone");
    });

    it("a source that does not compile fails with its file and line and the fix, and keeps the last good build", () => {
        compile.build({ root });
        const before = fs.readFileSync(path.join(root, "dist", "index.js"), "utf8");
        fs.writeFileSync(path.join(root, "lib", "answer.ts"), "export const answer: number = ;\n");
        expect(() => compile.ensureBuilt({ root })).toThrow(/^the program does not compile:\n {2}lib\/answer\.ts:1:\d+: .*\nFix the source named above; `npm run typecheck`/);
        expect(fs.readFileSync(path.join(root, "dist", "index.js"), "utf8")).toBe(before);
        expect(compile.staleReason({ root })).toBe("lib/answer.ts changed");
    });

    it("a dist/ it cannot write fails with where and the fix", () => {
        // A file where the folder should be: refused even for root, who may write anywhere else.
        fs.writeFileSync(path.join(root, "dist"), "not a folder");
        expect(() => compile.ensureBuilt({ root })).toThrow(/^the compiled program cannot be written to .*dist: .*\. Fix: run `pulumi up` from a checkout you can write to/);
    });
});

describe("the program's bundle, as `pulumi up` loads it", () => {
    // Modules whose load would cost every `pulumi up` time for nothing the program calls.
    const HEAVY = [
        "@pulumi/pulumi/index.js", // the SDK's index: the Automation API, the closure serializer
        "@pulumi/pulumi/automation/index.js",
        "typescript/lib/typescript.js", // loaded by the closure serializer
        "@pulumi/kubernetes/index.js", // every API group's classes, YAML and Helm support
    ];

    it("loads the SDK's parts it uses and neither package's index, nor the TypeScript compiler", () => {
        // A fresh Node, as the language host starts the program: the repository's real dist/.
        const script = [
            "const before = new Set(Object.keys(require.cache));",
            `require(${JSON.stringify(path.join(__dirname, "..", "..", "dist", "index.js"))});`,
            "process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => !before.has(k))));",
        ].join("\n");
        const loaded = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" })) as string[];
        const inNodeModules = (m: string) => loaded.some((k) => k.endsWith(`${path.sep}node_modules${path.sep}${m.split("/").join(path.sep)}`));
        // The check itself sees what it looks for: the SDK's output module is one the program uses.
        expect(inNodeModules("@pulumi/pulumi/output.js")).toBe(true);
        expect(HEAVY.filter(inNodeModules)).toEqual([]);
    });
});

describe("V8's compile cache, as the language host starts the program", () => {
    it("is on before the SDK loads: Pulumi.yaml's nodeargs preload build/cache.js, which points it at dist/compile-cache", () => {
        const repo = path.join(__dirname, "..", "..");
        const project = parse(fs.readFileSync(path.join(repo, "Pulumi.yaml"), "utf8")) as { runtime: { options: { nodeargs?: string } } };
        const nodeargs = (project.runtime.options.nodeargs ?? "").split(/\s+/).filter((a) => a !== "");
        // The language host starts Node in the program's directory, with the nodeargs before the SDK's runner.
        // Without NODE_COMPILE_CACHE (the toolchain's environment sets it): Node would take that folder first.
        const { NODE_COMPILE_CACHE: _, ...env } = process.env;
        const dir = execFileSync(process.execPath, [...nodeargs, "-e", "process.stdout.write(String(require('node:module').getCompileCacheDir()))"], {
            cwd: repo,
            encoding: "utf8",
            env,
        });
        // Node keeps one folder per Node version and build inside it.
        expect(path.dirname(dir)).toBe(path.join(repo, "dist", "compile-cache"));
    });
});
