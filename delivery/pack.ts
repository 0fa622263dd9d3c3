// The policy pack's version guard. Every version the organization was ever given is recorded in
// policy/published.json with the content digest it was built with; a version is never published
// twice, and the version moves whenever the content digest changes. The Actions path runs the pack
// from source after checking that the source builds to the digest recorded for policy/package.json's
// version, so both paths enforce the same rules: Deployments' policy groups enable exactly that
// version (delivery/deployments reads the same file).
//
//   toolchain/run tsx delivery/pack.ts check     the pack at HEAD builds to its version's recorded digest
//   toolchain/run tsx delivery/pack.ts version   after changing the pack: bump the patch version, record the digest
//   toolchain/run tsx delivery/pack.ts publish ORG [--dry-run]
//                                                publish the version unless the organization has it already
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "..");
export const LEDGER_FILE = path.join(REPO, "policy", "published.json");
const POLICY_PACKAGE = path.join(REPO, "policy", "package.json");
/** The files a published pack runs; the source map is left out, as its paths depend on where it was built. */
export const DIGESTED_FILES = ["PulumiPolicy.yaml", "index.js", "package.json"] as const;

const TOKEN = "PULUMI_ACCESS_TOKEN";
/** The pack's dependencies install without install scripts, and (withoutToken) without the Pulumi token. */
export const PACK_INSTALL = ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"] as const;
export function withoutToken(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return Object.fromEntries(Object.entries(env).filter(([k]) => k !== TOKEN));
}

/** Version -> content digest of every version ever recorded. */
export interface Ledger {
    readonly versions: Readonly<Record<string, string>>;
}

export class PackGuardError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PackGuardError";
    }
}

/**
 * package.json without its version: the digest names the pack's content, and the version is what
 * the ledger maps to it, so bumping the version alone must leave the digest as it was.
 */
function withoutVersion(packageJson: string | Buffer): string {
    const { version: _version, ...rest } = JSON.parse(packageJson.toString()) as Record<string, unknown>;
    return JSON.stringify(rest);
}

/** sha256 over each digested file's name and content (package.json without its version), in a fixed order. */
export function contentDigest(files: Readonly<Record<string, string | Buffer>>): string {
    const h = crypto.createHash("sha256");
    for (const name of DIGESTED_FILES) {
        const raw = files[name];
        if (raw === undefined) throw new PackGuardError(`the built pack has no ${name}; rebuild it: npm run policy:build`);
        const body = name === "package.json" ? withoutVersion(raw) : raw;
        h.update(`${name}\0${Buffer.byteLength(body)}\0`).update(body);
    }
    return `sha256:${h.digest("hex")}`;
}

export function digestOfDir(dir: string): string {
    return contentDigest(Object.fromEntries(DIGESTED_FILES.map((f) => [f, fs.readFileSync(path.join(dir, f))])));
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** The next patch version: 0.1.9 -> 0.1.10. */
export function nextPatch(version: string): string {
    const m = SEMVER.exec(version);
    if (!m) throw new PackGuardError(`policy/package.json's version ${JSON.stringify(version)} is not MAJOR.MINOR.PATCH. Fix: set e.g. "0.1.0"`);
    return `${m[1]}.${m[2]}.${Number(m[3]) + 1}`;
}

/**
 * Whether `version` with content `digest` is the recorded one. The answer names the fix: a
 * changed pack needs a new version (`version`), never the old version with new content.
 */
export function checkRecorded(ledger: Ledger, version: string, digest: string): void {
    const recorded = ledger.versions[version];
    if (recorded === undefined) {
        throw new PackGuardError(
            `policy pack version ${version} is not in policy/published.json, so nothing says which content it is. Fix: toolchain/run tsx delivery/pack.ts version (records it), and commit policy/package.json and policy/published.json`,
        );
    }
    if (recorded !== digest) {
        throw new PackGuardError(
            `the policy pack changed without a new version: ${version} was recorded with ${recorded}, the source now builds ${digest}; a published version is never replaced. Fix: toolchain/run tsx delivery/pack.ts version (moves to ${nextPatch(version)}), and commit policy/package.json and policy/published.json`,
        );
    }
}

/** The ledger and version after recording `digest`: unchanged when the current version already has it, otherwise the next patch version. */
export function recordVersion(ledger: Ledger, version: string, digest: string): { ledger: Ledger; version: string; changed: boolean } {
    if (ledger.versions[version] === digest) return { ledger, version, changed: false };
    // An unrecorded current version (a first record) keeps its number; a recorded one moves on.
    let next = ledger.versions[version] === undefined ? version : nextPatch(version);
    while (ledger.versions[next] !== undefined) next = nextPatch(next);
    return { ledger: { versions: { ...ledger.versions, [next]: digest } }, version: next, changed: true };
}

export type PublishDecision = { readonly publish: true } | { readonly publish: false; readonly because: string };

/** Publish only a recorded version the organization does not have yet. */
export function publishDecision(ledger: Ledger, version: string, digest: string, published: readonly string[]): PublishDecision {
    checkRecorded(ledger, version, digest);
    if (published.includes(version)) return { publish: false, because: `version ${version} is published already; a version is never published twice` };
    return { publish: true };
}

export function readLedger(file: string = LEDGER_FILE): Ledger {
    if (!fs.existsSync(file)) return { versions: {} };
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { versions?: Record<string, string> };
    for (const [v, d] of Object.entries(doc.versions ?? {})) {
        if (!SEMVER.test(v) || !/^sha256:[0-9a-f]{64}$/.test(d))
            throw new PackGuardError(`${file}: ${v} -> ${d} is not VERSION -> sha256:<64 hex>. Fix: restore it from git`);
    }
    return { versions: doc.versions ?? {} };
}

export function packVersion(file: string = POLICY_PACKAGE): string {
    const v = (JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string }).version;
    if (!v) throw new PackGuardError(`${file} has no version. Fix: set "version": "0.1.0"`);
    return v;
}

/** The pack's name and the versions of it the organization has, from `pulumi policy ls ORG --json`. */
export function publishedVersions(listing: unknown, packName: string): string[] {
    if (!Array.isArray(listing)) return [];
    const entry = listing.find((p: { name?: unknown }) => p?.name === packName) as { versionTags?: unknown; versions?: unknown } | undefined;
    const tags = entry?.versionTags ?? entry?.versions;
    return Array.isArray(tags) ? tags.map(String) : [];
}

async function builtDigest(): Promise<{ digest: string; dir: string }> {
    const { buildPack } = await import("../policy/build");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-pack-"));
    const built = await buildPack(path.join(dir, "pack"));
    return { digest: digestOfDir(built.dir), dir: built.dir };
}

async function main(argv: string[]): Promise<number> {
    const [command, org, ...rest] = argv;
    const version = packVersion();
    const ledger = readLedger();
    if (command === "check") {
        const { digest } = await builtDigest();
        checkRecorded(ledger, version, digest);
        process.stdout.write(`policy pack ${version}: ${digest}, as recorded in policy/published.json\n`);
        // In a workflow, later steps (the job summary) name the version and digest the job ran.
        const outputs = process.env["GITHUB_OUTPUT"];
        if (outputs) fs.appendFileSync(outputs, `version=${version}\ndigest=${digest}\n`);
        return 0;
    }
    if (command === "version") {
        const { digest } = await builtDigest();
        const next = recordVersion(ledger, version, digest);
        if (!next.changed) {
            process.stdout.write(`policy pack ${version} already records ${digest}; nothing to do\n`);
            return 0;
        }
        fs.writeFileSync(LEDGER_FILE, JSON.stringify(next.ledger, null, 2) + "\n");
        const pkg = JSON.parse(fs.readFileSync(POLICY_PACKAGE, "utf8")) as Record<string, unknown>;
        fs.writeFileSync(POLICY_PACKAGE, JSON.stringify({ ...pkg, version: next.version }, null, 2) + "\n");
        process.stdout.write(`policy pack ${next.version}: ${digest} (recorded; commit policy/package.json and policy/published.json)\n`);
        return 0;
    }
    if (command === "publish" && org) {
        const { PACK_NAME } = await import("../policy/name");
        const { digest, dir } = await builtDigest();
        const listing = JSON.parse(execFileSync("pulumi", ["policy", "ls", org, "--json"], { encoding: "utf8" }) || "[]") as unknown;
        const decision = publishDecision(ledger, version, digest, publishedVersions(listing, PACK_NAME));
        if (!decision.publish) {
            process.stdout.write(`policy pack ${PACK_NAME} ${version} (${digest}): not published: ${decision.because}\n`);
            return 0;
        }
        if (rest.includes("--dry-run")) {
            process.stdout.write(`would publish ${PACK_NAME} ${version} (${digest}) to ${org}\n`);
            return 0;
        }
        execFileSync("npm", [...PACK_INSTALL], { cwd: dir, stdio: "inherit", env: withoutToken(process.env) });
        execFileSync("pulumi", ["policy", "publish", org], { cwd: dir, stdio: "inherit" });
        process.stdout.write(`published ${PACK_NAME} ${version} (${digest}) to ${org}\n`);
        return 0;
    }
    throw new PackGuardError("usage: delivery/pack.ts check | version | publish ORG [--dry-run]");
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err: unknown) => {
            process.stderr.write(`pack: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exitCode = 1;
        },
    );
}
