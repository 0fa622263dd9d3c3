// Builds the policy pack in the form `pulumi policy publish` uploads: policy/index.ts and the
// shared code it runs (config/, kube/labels.ts, the components' manifest helpers, netpol/) bundled by
// esbuild into one index.js, next to a package.json declaring the packages left external and a
// PulumiPolicy.yaml. The repository stays the single source: nothing is copied by hand, and a
// package the pack imports but policy/package.json does not declare fails the build.
//
//   toolchain/run tsx policy/build.ts [--out DIR]          build into DIR (default dist/policy-pack)
//   toolchain/run tsx policy/build.ts --pack [--out DIR]   and `npm pack` it; prints the tarball's path
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";
import { build } from "esbuild";

const REPO = path.resolve(__dirname, "..");
const POLICY = path.join(REPO, "policy");
export const DEFAULT_OUT = path.join(REPO, "dist", "policy-pack");

interface PolicyPackage {
    readonly name: string;
    readonly version: string;
    readonly description?: string;
    readonly license?: string;
    readonly engines?: Record<string, string>;
    readonly dependencies?: Record<string, string>;
}

export interface BuiltPack {
    readonly dir: string;
    /** Files written, relative to dir. */
    readonly files: readonly string[];
    /** The packages the bundle imports at run time (all declared in package.json). */
    readonly externals: readonly string[];
    /** Repository files bundled in, relative to the repository. */
    readonly inputs: readonly string[];
}

export class PackBuildError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PackBuildError";
    }
}

/** `@scope/name/sub` -> `@scope/name`; `name/sub` -> `name`. */
const packageOf = (specifier: string) =>
    specifier
        .split("/")
        .slice(0, specifier.startsWith("@") ? 2 : 1)
        .join("/");

/** Builds the pack into `out`. `dependencies` stands in for policy/package.json's (for tests). */
export async function buildPack(out: string = DEFAULT_OUT, opts: { dependencies?: Record<string, string> } = {}): Promise<BuiltPack> {
    const pkg = JSON.parse(fs.readFileSync(path.join(POLICY, "package.json"), "utf8")) as PolicyPackage;
    const declared = opts.dependencies ?? pkg.dependencies ?? {};
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });

    const result = await build({
        entryPoints: [path.join(POLICY, "index.ts")],
        // The bundle's path comments are relative to this: the same source builds the same
        // index.js from any working directory, so its content digest names the source.
        absWorkingDir: REPO,
        outfile: path.join(out, "index.js"),
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node22",
        // Every npm package stays a dependency the pack declares and installs; only this
        // repository's own code is bundled.
        packages: "external",
        sourcemap: true,
        sourcesContent: true,
        metafile: true,
        logLevel: "silent",
    });

    const externals = new Set<string>();
    const inputs = Object.keys(result.metafile.inputs).map((p) => path.relative(REPO, path.resolve(REPO, p)));
    for (const input of Object.values(result.metafile.inputs)) {
        for (const imp of input.imports) {
            // Relative paths marked external are type-only imports esbuild dropped.
            if (!imp.external || imp.path.startsWith(".") || imp.path.startsWith("/")) continue;
            const name = imp.path.replace(/^node:/, "");
            if (builtinModules.includes(name) || builtinModules.includes(name.split("/")[0]!)) continue;
            externals.add(packageOf(imp.path));
        }
    }
    const undeclared = [...externals].filter((e) => declared[e] === undefined).sort();
    if (undeclared.length > 0) {
        throw new PackBuildError(
            `The policy pack imports ${undeclared.map((u) => `'${u}'`).join(", ")}, which policy/package.json does not declare, so a published pack would not find ${undeclared.length === 1 ? "it" : "them"}. ` +
                `Fix: add ${undeclared.map((u) => `"${u}"`).join(", ")} to policy/package.json's dependencies, at the version the root package.json pins.`,
        );
    }

    const manifest = {
        name: pkg.name,
        version: pkg.version,
        description: pkg.description,
        license: pkg.license,
        private: true,
        main: "index.js",
        files: ["index.js", "index.js.map", "PulumiPolicy.yaml"],
        engines: pkg.engines,
        dependencies: declared,
    };
    fs.writeFileSync(path.join(out, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
    const description = /^description:\s*(.+)$/m.exec(fs.readFileSync(path.join(POLICY, "PulumiPolicy.yaml"), "utf8"))?.[1] ?? "";
    fs.writeFileSync(
        path.join(out, "PulumiPolicy.yaml"),
        // Plain JavaScript: the runtime need not load a TypeScript compiler.
        `# Built by policy/build.ts from policy/ (${pkg.name}; its version is in package.json); edit policy/, not this file.\n` +
            `runtime:\n  name: nodejs\n  options:\n    typescript: false\ndescription: ${description}\n`,
    );
    return { dir: out, files: fs.readdirSync(out).sort(), externals: [...externals].sort(), inputs: inputs.sort() };
}

/** `npm pack` of a built pack into `dest`: the tarball `pulumi policy publish` would upload. */
export function packTarball(dir: string, dest: string): string {
    fs.mkdirSync(dest, { recursive: true });
    const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dest, "--loglevel=error"], { cwd: dir, encoding: "utf8" });
    const [info] = JSON.parse(out) as { filename: string }[];
    return path.join(dest, info!.filename);
}

async function main(argv: string[]): Promise<void> {
    let out = DEFAULT_OUT;
    let pack = false;
    for (let i = 0; i < argv.length; i += 1) {
        if (argv[i] === "--pack") pack = true;
        else if (argv[i] === "--out" && argv[i + 1]) out = path.resolve(argv[++i]!);
        else throw new PackBuildError(`unknown argument '${argv[i]}'. Usage: policy/build.ts [--pack] [--out DIR]`);
    }
    const built = await buildPack(out);
    process.stderr.write(
        `built the policy pack in ${path.relative(process.cwd(), built.dir) || "."}: ${built.files.join(", ")}\n` +
            `  bundled ${built.inputs.length} files of this repository; external: ${built.externals.join(", ")}\n`,
    );
    if (pack) process.stdout.write(`${packTarball(built.dir, path.dirname(built.dir))}\n`);
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((err: unknown) => {
        process.stderr.write(`policy/build.ts: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
    });
}
