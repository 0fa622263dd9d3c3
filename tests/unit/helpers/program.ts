// The whole program under Pulumi mocks: the config the engine would hand it (Pulumi.yaml defaults,
// a committed stack file, per-stack secrets, overrides), what it registers and reads (with inputs,
// provider and dependencies) and its outputs. Upstream stacks hold the committed stacks' verified
// records unless a test says otherwise. Calls nobody mocked fail the test.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, vi } from "vitest";
import { parse } from "yaml";
import type { ReleaseOutput } from "../../../components/environment";
import { ENVIRONMENTS, type EnvironmentName } from "../../../config/environments";
import { parseImage } from "../../../config/schema";
import { readStackConfig } from "../../../config/stackFile";
import type { SignedVerifiedRecord } from "../../../promotion/record";
import { seededRecord, TEST_KEY } from "../../records";
import { tapMonitor } from "./monitor";

export const ROOT = path.resolve(__dirname, "../../..");
// The dynamic resources the program registers (module "progression").
export const SMOKE_TYPE = "pulumi-nodejs:dynamic/progression:SmokeRun";
export const MIGRATION_TYPE = "pulumi-nodejs:dynamic/progression:MigrationRun";
export const KEY_TYPE = "pulumi-nodejs:dynamic/progression:DigestKey";
export const SWITCH_TYPE = "pulumi-nodejs:dynamic/progression:LiveSwitch";
export const REF_TYPE = "pulumi:pulumi:StackReference";
/** The digest the mocked live switch reports the pods ran. */
export const RAN_DIGEST = "sha256:" + "9e".repeat(32);
export const DIGEST_KEY = "0f".repeat(32);

/**
 * The `verified` output a committed stack would export after its checks passed, signed with
 * TEST_KEY, a minute ago. Its pods ran the digest staging and prod pin: dev's tag 1.4.2 named it.
 */
export function committedRecord(env: EnvironmentName): SignedVerifiedRecord {
    const ranDigest = parseImage(committedConfig("prod").app.image).digest!;
    return seededRecord(committedConfig(env), TEST_KEY, { passedAt: new Date(Date.now() - 60_000).toISOString(), ranDigest });
}

// The committed stack files do not change while the tests run: each is read and validated once per
// worker (every runProgram builds the upstream records from them).
const committedConfigs = new Map<EnvironmentName, ReturnType<typeof readStackConfig>>();
function committedConfig(env: EnvironmentName): ReturnType<typeof readStackConfig> {
    let config = committedConfigs.get(env);
    if (config === undefined) committedConfigs.set(env, (config = readStackConfig(env)));
    return config;
}

/** Outputs of the stacks the program may read, by fully qualified name; the committed records by default. */
export type Upstreams = Record<string, Record<string, unknown>>;
export const committedUpstreams = (): Upstreams =>
    Object.fromEntries(ENVIRONMENTS.map((e) => [`organization/env-progression/${e}`, { verified: committedRecord(e) }]));

export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, any>;
    provider: string | undefined;
    /** URNs the registration named as dependencies (explicit dependsOn and inputs' resources). */
    dependencies: string[];
    parent: string;
    /** The resource option: the engine forgets it on delete and the cluster keeps it. */
    retainOnDelete?: boolean;
    urn?: string;
}

/**
 * Points KUBECONFIG, for the whole test file, at a kubeconfig with one context per environment
 * (each with a token of its own), and back to what it was after; returns a function giving its
 * directory, a scratch space.
 */
export function useKubeconfig(): () => string {
    let tmp = "";
    let previous: string | undefined;
    beforeAll(() => {
        previous = process.env["KUBECONFIG"];
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "progression-unit-"));
        const kubeconfig = path.join(tmp, "kubeconfig");
        fs.writeFileSync(
            kubeconfig,
            [
                "apiVersion: v1",
                "kind: Config",
                "clusters:",
                ...ENVIRONMENTS.map((e) => `  - name: ${e}-cluster\n    cluster: { server: "https://${e}.k8s.example.com:6443" }`),
                "contexts:",
                ...ENVIRONMENTS.map((e) => `  - name: ${e}\n    context: { cluster: ${e}-cluster, user: ${e}-user }`),
                "users:",
                ...ENVIRONMENTS.map((e) => `  - name: ${e}-user\n    user: { token: ${e}-kube-token-3f9a }`),
                "current-context: dev",
            ].join("\n"),
        );
        process.env["KUBECONFIG"] = kubeconfig;
    });
    afterAll(() => {
        // The next test file in this worker sees the environment as it was.
        if (previous === undefined) delete process.env["KUBECONFIG"];
        else process.env["KUBECONFIG"] = previous;
        fs.rmSync(tmp, { recursive: true, force: true });
    });
    return () => tmp;
}

/** A committed YAML file, parsed once per worker; callers copy what they change. */
const parsedFiles = new Map<string, unknown>();
function parsedYaml(file: string): unknown {
    if (!parsedFiles.has(file)) parsedFiles.set(file, parse(fs.readFileSync(file, "utf8")));
    return parsedFiles.get(file);
}

/** The config the engine would hand the program: stack values over Pulumi.yaml defaults. */
export function engineConfig(stack: EnvironmentName, overrides: Record<string, unknown>): { config: Record<string, string>; secretKeys: string[] } {
    const project = parsedYaml(path.join(ROOT, "Pulumi.yaml")) as { config: Record<string, { default?: unknown }> };
    const stackFile = parsedYaml(path.join(ROOT, `Pulumi.${stack}.yaml`)) as { config: Record<string, unknown> };
    const merged: Record<string, unknown> = {};
    for (const [k, decl] of Object.entries(project.config)) if (decl.default !== undefined) merged[`env-progression:${k}`] = decl.default;
    Object.assign(merged, stackFile.config);
    // Each environment's operators set its secrets; the test sets different ones per stack.
    merged["env-progression:DATABASE_URL"] = `postgres://app:${stack}-pw@db.${stack}:5432/app`;
    merged["env-progression:API_TOKEN"] = `${stack}-token`;
    // One key for the whole project, the same on every stack.
    merged["env-progression:promotionKey"] = TEST_KEY;
    for (const [k, v] of Object.entries(overrides)) {
        if (v === undefined) delete merged[`env-progression:${k}`];
        else merged[`env-progression:${k}`] = v;
    }
    const config = Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    return { config, secretKeys: ["env-progression:DATABASE_URL", "env-progression:API_TOKEN", "env-progression:promotionKey"] };
}

export interface RunOptions {
    /** The stack's DigestKey. @default DIGEST_KEY */
    digestKey?: string;
    /** The project directory the engine reports. @default - none: no stack file is read */
    root?: string;
    /** What the stacks' reads return. @default - the committed stacks' records */
    upstreams?: Upstreams;
    /**
     * A preview of a new stack: the engine's dry run, where the DigestKey, never created yet, has
     * no key. @default false
     */
    preview?: boolean;
    /** Collects what the program warns (pulumi.log.warn) instead of printing it. @default - printed */
    warnings?: string[];
    /**
     * How many of the stack's reads of its own outputs meet its checkpoint half written, as a file
     * backend's read can while the update writes it. @default 0
     */
    tornOwnReads?: number;
}

/** What the live switch reports after switching to the candidate (or the pinned revision). */
function switchState(inputs: Record<string, any>) {
    const live = (inputs["pin"] as string | undefined) ?? (inputs["revision"] as string);
    const switchedAt = "2026-01-01T00:00:01.000Z";
    return {
        ...inputs,
        live,
        previous: null,
        ranDigest: RAN_DIGEST,
        switchedAt,
        switchMs: 0,
        history: [{ revision: live, ranDigest: RAN_DIGEST, switchedAt, outcome: inputs["outcome"] }],
    };
}

export async function runProgram(stack: EnvironmentName, overrides: Record<string, unknown> = {}, recorded: Recorded[] = [], opts: RunOptions = {}) {
    vi.resetModules();
    const pulumi = await import("@pulumi/pulumi");
    const upstreams = opts.upstreams ?? committedUpstreams();
    let torn = opts.tornOwnReads ?? 0;
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                if (args.type === REF_TYPE) {
                    const outputs = upstreams[args.inputs["name"] as string];
                    if (outputs === undefined) throw new Error(`unknown stack ${String(args.inputs["name"])}`);
                    return { id: args.inputs["name"], state: { name: args.inputs["name"], outputs, secretOutputNames: [] } };
                }
                const state =
                    args.type === SMOKE_TYPE
                        ? { ...args.inputs, passedAt: "2026-01-01T00:00:00Z", results: [{ name: "healthz", passed: true }] }
                        : args.type === KEY_TYPE
                          ? opts.preview
                              ? {}
                              : { key: opts.digestKey ?? DIGEST_KEY }
                          : args.type === MIGRATION_TYPE
                            ? { ...args.inputs, migratedAt: "2026-01-01T00:00:00Z" }
                            : args.type === SWITCH_TYPE
                              ? switchState(args.inputs)
                              : args.inputs;
                return { id: `${args.name}-id`, state };
            },
            call(args) {
                // The promotion check reads its own outputs, and asks whether the upstream stack exists.
                if (args.token === "pulumi:pulumi:readStackOutputs") {
                    if (args.inputs["name"] === `organization/env-progression/${stack}` && torn > 0) {
                        torn--;
                        const details = "invocation of pulumi:pulumi:readStackOutputs returned an error: failed to load checkpoint: EOF";
                        throw Object.assign(new Error(details), { details });
                    }
                    const outputs = upstreams[args.inputs["name"] as string];
                    if (outputs === undefined) {
                        // The engine's gRPC error: the SDK reads its `details`.
                        const details = `invocation of pulumi:pulumi:readStackOutputs returned an error: unknown stack "${String(args.inputs["name"])}"`;
                        throw Object.assign(new Error(details), { details });
                    }
                    return { name: args.inputs["name"], outputs, secretOutputNames: [] };
                }
                throw new Error(`unexpected call to ${args.token}: the program must not invoke functions`);
            },
        },
        "env-progression",
        stack,
        opts.preview === true,
        "organization",
    );
    // The project directory the engine would report (getRootDirectory). The SDK reads it from the
    // environment once, into a store shared by every run; without one the program falls back to
    // this repository's Pulumi.yaml and reads no stack file.
    (globalThis as unknown as { globalStore: { settings: { options: { rootDirectory: string } } } }).globalStore.settings.options.rootDirectory = opts.root ?? "";
    // The mock monitor hands newResource no dependencies: record them from the request itself.
    tapMonitor(pulumi, "registerResource", (req) => {
        const entry: Recorded = {
            type: req.getType(),
            name: req.getName(),
            inputs: req.getObject()?.toJavaScript() ?? {},
            provider: req.getProvider() || undefined,
            dependencies: req.getDependenciesList(),
            parent: req.getParent(),
            retainOnDelete: req.getRetainondelete?.() === true,
        };
        recorded.push(entry);
        return (resp) => (entry.urn = resp.getUrn());
    });
    // A StackReference is read, not registered.
    tapMonitor(pulumi, "readResource", (req) => {
        recorded.push({
            type: req.getType(),
            name: req.getName(),
            inputs: req.getProperties()?.toJavaScript() ?? {},
            provider: req.getProvider() || undefined,
            dependencies: req.getDependenciesList(),
            parent: req.getParent(),
        });
    });
    const { config, secretKeys } = engineConfig(stack, overrides);
    pulumi.runtime.setAllConfig(config, secretKeys);
    const warnings = opts.warnings;
    const warn = warnings
        ? vi.spyOn(pulumi.log, "warn").mockImplementation((msg: string) => {
              warnings.push(msg);
              return Promise.resolve();
          })
        : undefined;
    let program: Awaited<ReturnType<typeof import("../../../index")>>;
    try {
        program = await (await import("../../../index")).default();
    } catch (err) {
        // Let the registrations already made finish before the next run installs new mocks.
        await pulumi.runtime.disconnect().catch(() => undefined);
        throw err;
    } finally {
        warn?.mockRestore();
    }
    const settle = <T>(o: { apply: (f: (v: T) => void) => unknown }) => new Promise<T>((resolve) => o.apply(resolve));
    if (opts.preview) {
        // Outputs that depend on what a preview does not know never resolve: only the
        // registrations count.
        await pulumi.runtime.disconnect();
        return { recorded, outputs: undefined as never, program };
    }
    const outputs = {
        namespace: await settle<string>(program.namespace),
        serviceName: await settle<string>(program.serviceName),
        serviceUrl: await settle<string>(program.serviceUrl),
        passedAt: await settle<string>(program.smoke.passedAt),
        verified: await settle<SignedVerifiedRecord>(program.verified),
        verifiedHistory: await settle<unknown[]>(program.verifiedHistory),
        release: await settle<ReleaseOutput>(program.release),
        promotion: program.promotion,
    };
    // Drain this run's outstanding registrations before the next run installs new mocks.
    await pulumi.runtime.disconnect();
    return { recorded, outputs, program };
}

// How a secret input reaches the monitor: a wrapper carrying Pulumi's secret signature.
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const isSecret = (v: unknown) => typeof v === "object" && v !== null && Object.values(v).includes(SECRET_SIG);
export const unwrap = (v: any) => (isSecret(v) ? v.value : v);

export const of = (recorded: Recorded[], type: string) => recorded.filter((r) => r.type === type);
export const one = (recorded: Recorded[], type: string) => {
    const found = of(recorded, type);
    expect(found, `exactly one ${type}`).toHaveLength(1);
    return found[0]!;
};

