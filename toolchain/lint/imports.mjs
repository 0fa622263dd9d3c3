// The project's own import rules, for eslint.config.mjs. Both read every import a file makes,
// type-only ones included (`import type`, `export type ... from`, `import("...")` types): an
// erased import still ties one module's meaning to another's, and import-x/no-cycle skips them.
//
//   progression/layers     an import runs down the layers (LAYERS, lowest first) or stays in its
//                          own layer, never up;
//   progression/no-cycle   no file reaches itself through its relative imports.
//
// tests/unit/lint.test.ts shows both on throw-away modules.
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

/**
 * The layers, lowest first. A file belongs to the layer with the longest path prefix that matches
 * it (so `config/load.ts` sits above the rest of `config/`).
 */
export const LAYERS = [
    // Running a child process: allowlisted environment, redacted output, timeout, no survivors.
    { name: "proc", paths: ["proc/"] },
    // Talking to the Kubernetes API, and the label keys every layer above selects by.
    { name: "kube", paths: ["kube/"] },
    // The NetworkPolicy evaluator: pure, on plain objects.
    { name: "netpol", paths: ["netpol/"] },
    // The smoke checks: their format, engine and provider.
    { name: "smoke", paths: ["smoke/"] },
    // The configuration's shapes and per-group validators, which use the lower layers' parsers.
    { name: "config", paths: ["config/"] },
    // Verified records, their digests and the promotion rules.
    { name: "promotion", paths: ["promotion/"] },
    // The live switch between revisions, which runs the smoke checks and reads digests.
    { name: "release", paths: ["release/"] },
    // The migration gate's runner and lint.
    { name: "migrate", paths: ["migrate/"] },
    // What the program registers with the engine, under the components: the Pulumi SDK's parts
    // and the Kubernetes kinds, each loaded without its package's index.
    { name: "resources", paths: ["resources/"] },
    // Pulumi components and the pure manifest builders under them.
    { name: "components", paths: ["components/"] },
    // The edges: the program (its config loader and entry point), the policy pack.
    { name: "edge", paths: ["config/load.ts", "index.ts", "policy/"] },
    // The test harness the drivers and e2e tests share (a local cluster, PostgreSQL, probes).
    { name: "harness", paths: ["tests/harness/"] },
    // Drivers: the CLI, delivery tooling, the bench, the in-cluster programs, the app itself.
    { name: "drivers", paths: ["cli/", "delivery/", "bench/", "cluster/", "app/"] },
    // Tests may import anything.
    { name: "tests", paths: ["tests/"] },
];

const EXTENSIONS = [".ts", ".mts", ".js", ".mjs"];

/** The file a relative specifier names, or undefined when none exists. */
function resolve(fromFile, specifier) {
    const base = path.resolve(path.dirname(fromFile), specifier);
    for (const candidate of [base, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => path.join(base, "index" + e))]) {
        try {
            if (fs.statSync(candidate).isFile()) return candidate;
        } catch {
            // not this one
        }
    }
    return undefined;
}

const parsed = new Map(); // file -> { mtimeMs, imports }

/** A file's relative imports, every kind: [{ specifier, target, pos }]. */
export function relativeImports(file, text) {
    let mtimeMs = -1;
    if (text === undefined) {
        mtimeMs = fs.statSync(file).mtimeMs;
        const cached = parsed.get(file);
        if (cached !== undefined && cached.mtimeMs === mtimeMs) return cached.imports;
        text = fs.readFileSync(file, "utf8");
    }
    const imports = ts
        .preProcessFile(text, true, true)
        .importedFiles.filter((i) => i.fileName.startsWith("."))
        .map((i) => ({ specifier: i.fileName, target: resolve(file, i.fileName), pos: i.pos }))
        .filter((i) => i.target !== undefined);
    if (mtimeMs >= 0) parsed.set(file, { mtimeMs, imports });
    return imports;
}

/** The index in `layers` of the layer `relative` (a path from the root, with `/`) belongs to, or -1. */
export function layerIndex(relative, layers = LAYERS) {
    let best = -1;
    let bestLength = -1;
    layers.forEach((layer, index) => {
        for (const p of layer.paths) {
            if ((relative === p || relative.startsWith(p)) && p.length > bestLength) {
                best = index;
                bestLength = p.length;
            }
        }
    });
    return best;
}

/** The shortest route of relative imports from `start` back to `file`, or undefined. */
export function cycleThrough(file, start) {
    const previous = new Map([[start, undefined]]);
    const queue = [start];
    while (queue.length > 0) {
        const current = queue.shift();
        if (current === file) {
            const route = [];
            for (let f = current; f !== undefined; f = previous.get(f)) route.unshift(f);
            return route;
        }
        for (const { target } of relativeImports(current)) {
            if (!previous.has(target)) {
                previous.set(target, current);
                queue.push(target);
            }
        }
    }
    return undefined;
}

function options(context) {
    const settings = context.settings["progression/layers"] ?? {};
    return { root: settings.root ?? context.cwd, layers: settings.layers ?? LAYERS };
}

const posix = (p) => p.split(path.sep).join("/");

const layers = {
    meta: {
        type: "problem",
        docs: { description: "An import runs down the layers of LAYERS (toolchain/lint/imports.mjs), type-only imports included." },
        schema: [],
    },
    create(context) {
        return {
            Program() {
                const { root, layers: order } = options(context);
                const file = context.filename;
                const relative = posix(path.relative(root, file));
                if (relative.startsWith("..")) return;
                const own = layerIndex(relative, order);
                const names = order.map((l) => l.name).join(" < ");
                if (own < 0) {
                    context.report({
                        loc: { line: 1, column: 0 },
                        message: `${relative} belongs to no layer. Allowed: a path under one of the layers ${names}. Fix: add its folder to LAYERS in toolchain/lint/imports.mjs`,
                    });
                    return;
                }
                for (const i of relativeImports(file, context.sourceCode.text)) {
                    const target = posix(path.relative(root, i.target));
                    const theirs = layerIndex(target, order);
                    if (theirs > own) {
                        context.report({
                            loc: context.sourceCode.getLocFromIndex(i.pos),
                            message:
                                `${relative} (layer ${order[own].name}) imports ${target} (layer ${order[theirs].name}, above it); imports run down the layers ${names}. ` +
                                `Fix: move what it needs down into layer ${order[own].name} or below`,
                        });
                    }
                }
            },
        };
    },
};

const noCycle = {
    meta: {
        type: "problem",
        docs: { description: "No file reaches itself through its relative imports, type-only imports included." },
        schema: [],
    },
    create(context) {
        return {
            Program() {
                const file = context.filename;
                const root = options(context).root;
                for (const i of relativeImports(file, context.sourceCode.text)) {
                    const route = cycleThrough(file, i.target);
                    if (route !== undefined) {
                        context.report({
                            loc: context.sourceCode.getLocFromIndex(i.pos),
                            message:
                                `import cycle (type-only imports count): ${[file, ...route].map((f) => posix(path.relative(root, f))).join(" -> ")}. ` +
                                "Fix: move what both need into a module of its own, or merge the two",
                        });
                        return;
                    }
                }
            },
        };
    },
};

export default { meta: { name: "progression" }, rules: { layers, "no-cycle": noCycle } };
