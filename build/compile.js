// Compiles the Pulumi program ahead of `pulumi up` (build/program.js runs it) and the `progression`
// command ahead of its start (bin/progression), so each starts plain JavaScript: no TypeScript
// loader and no type check on every run (CI type-checks with tsc).
//
// One esbuild run writes five bundles, each of this repository's code only (npm packages stay
// external, loaded from node_modules as before):
//   dist/index.js             the program (index.ts);
//   dist/provider-smoke.js    the SmokeRun dynamic provider's logic (smoke/provider.ts);
//   dist/provider-migrate.js  the MigrationRun one (migrate/provider.ts);
//   dist/provider-switch.js   the LiveSwitch one (release/switch.ts);
//   dist/cli.js               the `progression` command (cli/main.ts).
// Every bundle sits one folder below the root, as every source that reads `__dirname` does, so
// its `__dirname/..` (the project root: parity-rules.json, Pulumi.<stack>.yaml, the provider
// bundles) is the same path in a bundle.
//
// dist/build.json records what the bundles were built from: the SHA-256 of every input file (from
// esbuild's metafile) and of this file, esbuild's version, and which inputs each bundle holds. A
// run hashes those files again (a few milliseconds) and rebuilds when one differs or a bundle is
// missing; an import of a new file changes the importing file, so it is caught too. Bundles and the
// record are written to temporary names and renamed, the record last: two `up`s at once build the
// same bytes, and a reader never sees half a file.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const DIST = path.join(ROOT, "dist");
const RECORD_VERSION = 1;

/** Output name (under dist/, without .js) -> entry source, relative to the root. */
const ENTRIES = {
    index: "index.ts",
    "provider-smoke": "smoke/provider.ts",
    "provider-migrate": "migrate/provider.ts",
    "provider-switch": "release/switch.ts",
    cli: "cli/main.ts",
};

/** @param {string} file */
const sha256 = (file) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/**
 * Where to build from and into: the project root and its dist/ folder (tests use a scratch project).
 * @typedef {{ root?: string, dist?: string }} Where
 */

/**
 * Why dist/ must be built again, or undefined when it is current.
 * @param {Where} [where]
 * @returns {string | undefined}
 */
function staleReason({ root = ROOT, dist = path.join(root, "dist") } = {}) {
    /** @type {{ version?: number, esbuild?: string, builder?: string, inputs?: Record<string, string> }} */
    let record;
    try {
        record = JSON.parse(fs.readFileSync(path.join(dist, "build.json"), "utf8"));
    } catch {
        return "dist/ has not been built";
    }
    if (record.version !== RECORD_VERSION || !record.inputs) return "dist/build.json is from another version of the build";
    if (record.builder !== sha256(__filename)) return "build/compile.js changed";
    if (record.esbuild !== esbuildVersion()) return "esbuild changed";
    for (const name of Object.keys(ENTRIES)) if (!fs.existsSync(path.join(dist, `${name}.js`))) return `dist/${name}.js is missing`;
    for (const [rel, digest] of Object.entries(record.inputs)) {
        let now;
        try {
            now = sha256(path.join(root, rel));
        } catch {
            return `${rel} is gone`;
        }
        if (now !== digest) return `${rel} changed`;
    }
    return undefined;
}

/** esbuild's version, or "" when it is not installed (build says how to fix that). */
function esbuildVersion() {
    try {
        return /** @type {{ version: string }} */ (require("esbuild/package.json")).version;
    } catch {
        return "";
    }
}

/**
 * Compiles the bundles into dist/.
 * @param {Where} [where]
 */
function build({ root = ROOT, dist = path.join(root, "dist") } = {}) {
    /** @type {typeof import("esbuild")} */
    let esbuild;
    try {
        esbuild = require("esbuild");
    } catch (err) {
        throw new Error(
            `the program must be compiled (${staleReason({ root, dist })}) but esbuild cannot be loaded: ${err instanceof Error ? err.message : String(err)}. ` +
                "Fix: run `npm ci` in the project (esbuild is one of its dependencies).",
        );
    }
    let result;
    try {
        result = esbuild.buildSync({
            entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([out, src]) => [out, path.join(root, src)])),
            // Paths in the metafile and the bundles' comments are relative to the root, so the same
            // sources build the same bytes in any checkout.
            absWorkingDir: root,
            outdir: dist,
            bundle: true,
            platform: "node",
            format: "cjs",
            target: "node22",
            packages: "external",
            // No source maps: the SDK's runner maps every stack trace it takes (one per promise it
            // tracks) through a linked map, which cost more than half a second per run. Each
            // module's code in a bundle follows a comment naming its source file.
            sourcemap: false,
            metafile: true,
            write: false,
            logLevel: "silent",
        });
    } catch (err) {
        const errors = /** @type {{ errors?: import("esbuild").Message[] }} */ (err).errors ?? [];
        const where = errors
            .map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text))
            .join("\n  ");
        throw new Error(
            `the program does not compile:\n  ${where || (err instanceof Error ? err.message : String(err))}\n` +
                "Fix the source named above; `npm run typecheck` also reports type errors, which this build does not check.",
        );
    }
    const tmp = `.tmp-${process.pid}`;
    try {
        fs.mkdirSync(dist, { recursive: true });
        for (const out of result.outputFiles) {
            fs.writeFileSync(out.path + tmp, out.contents);
            fs.renameSync(out.path + tmp, out.path);
        }
    } catch (err) {
        throw new Error(
            `the compiled program cannot be written to ${dist}: ${err instanceof Error ? err.message : String(err)}. ` +
                "Fix: run `pulumi up` from a checkout you can write to, or build it once where you can: node -e 'require(\"./build/compile\").ensureBuilt()'",
        );
    }
    /** @type {Record<string, string>} */
    const inputs = {};
    for (const rel of Object.keys(result.metafile.inputs).sort()) {
        if (rel.includes("node_modules/")) continue;
        inputs[rel] = sha256(path.join(root, rel));
    }
    // Which of those files each bundle holds: `pulumi up` loads the program's and the providers',
    // never the command's.
    /** @type {Record<string, string[]>} */
    const bundles = {};
    for (const [out, meta] of Object.entries(result.metafile.outputs)) {
        bundles[path.basename(out, ".js")] = Object.keys(meta.inputs).filter((rel) => !rel.includes("node_modules/")).sort();
    }
    const record = { version: RECORD_VERSION, builder: sha256(__filename), esbuild: esbuildVersion(), inputs, bundles };
    fs.writeFileSync(path.join(dist, "build.json") + tmp, JSON.stringify(record, null, 2) + "\n");
    fs.renameSync(path.join(dist, "build.json") + tmp, path.join(dist, "build.json"));
}

/**
 * Builds dist/ when it is stale. Returns why it was rebuilt, or undefined when it was current.
 * @param {Where} [where]
 * @returns {string | undefined}
 */
function ensureBuilt(where = {}) {
    const reason = staleReason(where);
    if (reason !== undefined) build(where);
    return reason;
}

module.exports = { ENTRIES, ROOT, DIST, staleReason, build, ensureBuilt };
