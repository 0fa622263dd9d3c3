// Fixtures for the policy tests: compliant manifests built by the program's own builders from the
// committed stack files, and two ways to run a policy as the engine does:
//   - runResource/runStack call the policy's validateResource/validateStack with engine-shaped
//     args: props behind @pulumi/policy's own unknown-checking proxy, config via getConfig,
//     notApplicable throwing;
//   - analyze/analyzeStack go through @pulumi/policy's analyzer RPC handlers with protobuf
//     requests, i.e. the real deserialization, unknown handling and enforcement levels.
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as analyzerproto from "@pulumi/pulumi/proto/analyzer_pb";
import * as policyModule from "@pulumi/policy";
import * as policyServer from "@pulumi/policy/server";
import type {
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import type { EnvironmentName } from "../../config/environments";
import { readStackConfig } from "../../config/stackFile";
import { revisionId } from "../../components/app";
import { environmentManifests, type KubernetesObject, SECRET_CHECKSUM_PLACEHOLDER } from "../../components/manifests";
import { enforcementFor, type PackContext, resolveContext } from "../../policy/environment";
import { policies } from "../../policy/pack";

/** The pack as the engine builds it for a stack named after `env`. */
export function contextFor(env: EnvironmentName): PackContext {
    return resolveContext(env, env);
}

export function packFor(env: EnvironmentName) {
    return policies(contextFor(env));
}

export function resourcePolicyNamed(env: EnvironmentName, name: string): ResourceValidationPolicy {
    const p = packFor(env).find((x) => x.name === name);
    if (!p || !("validateResource" in p)) throw new Error(`no resource policy ${name}`);
    return p;
}

export function stackPolicyNamed(env: EnvironmentName, name: string): StackValidationPolicy {
    const p = packFor(env).find((x) => x.name === name);
    if (!p || !("validateStack" in p)) throw new Error(`no stack policy ${name}`);
    return p;
}

/** Every object one committed stack applies, fresh each call so a test may break one field. */
export function manifestsOf(env: EnvironmentName): KubernetesObject[] {
    return structuredClone(environmentManifests(readStackConfig(env)));
}

/**
 * The name of an environment's app Deployment as rendered without the stack's secret checksum:
 * the candidate revision's, `<app>-<revision id>`.
 */
export function appDeploymentName(env: EnvironmentName): string {
    const config = readStackConfig(env);
    return `${config.app.name}-${revisionId({ app: config.app, namespace: config.namespace, environment: config.environment }, SECRET_CHECKSUM_PLACEHOLDER)}`;
}

/** `namespace/name` of an environment's app Deployment, as violations name it. */
export function appDeployment(env: EnvironmentName): string {
    return `${readStackConfig(env).namespace}/${appDeploymentName(env)}`;
}

export function manifestOf(env: EnvironmentName, kind: string, name?: string): any {
    const m = manifestsOf(env).find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
    if (!m) throw new Error(`no ${kind} ${name ?? ""} in ${env}`);
    return m;
}

/** The Pulumi type token @pulumi/kubernetes registers for a manifest. */
export function pulumiType(m: { apiVersion: string; kind: string }): string {
    return `kubernetes:${m.apiVersion.includes("/") ? m.apiVersion : `core/${m.apiVersion}`}:${m.kind}`;
}

// @pulumi/policy exports its unknown-checking proxy at runtime but not in its typings.
const { unknownCheckingProxy } = policyModule as unknown as { unknownCheckingProxy: <T>(props: T) => T };

/** The engine's wire sentinel for an unknown string (what a computed output is during preview). */
export const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
export const UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2";
export const UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff";
export const UNKNOWN_NUMBER = "3eeb2bf0-c639-47a8-9e75-3b44932eb421";

export interface Outcome {
    readonly violations: string[];
    /** The reason, when the policy declared itself not applicable. */
    readonly notApplicable: string | undefined;
}

class NotApplicableSignal extends Error {}

/** A resource class as isType/asType receive it: a Pulumi type token, or an isInstance check. */
interface ResourceClass {
    readonly __pulumiType?: unknown;
    isInstance?(obj: unknown): boolean;
}

/** The engine's rule (the policy server's isTypeOf): the class's Pulumi type, else its isInstance. */
export function isTypeOf(type: string, resourceClass: ResourceClass): boolean {
    if (typeof resourceClass.__pulumiType === "string" && resourceClass.__pulumiType !== "") return type === resourceClass.__pulumiType;
    return typeof resourceClass.isInstance === "function" && resourceClass.isInstance({ __pulumiType: type }) === true;
}

/** isType/asType for a resource of `type` whose (proxied) props are `props`, as the engine builds them. */
function typeChecks(type: string, props: unknown) {
    return {
        isType: (resourceClass: ResourceClass) => isTypeOf(type, resourceClass),
        asType: (resourceClass: ResourceClass) => (isTypeOf(type, resourceClass) ? props : undefined),
    } as unknown as Pick<ResourceValidationArgs, "isType" | "asType">;
}

/** Runs one resource policy on one manifest, with engine-shaped args. */
export async function runResource(
    policy: ResourceValidationPolicy,
    manifest: any,
    config: Record<string, unknown> = {},
    type = pulumiType(manifest),
): Promise<Outcome> {
    const violations: string[] = [];
    const props = unknownCheckingProxy(manifest);
    const args: ResourceValidationArgs = {
        type,
        props,
        urn: `urn:pulumi:test::env-progression::${type}::${String(manifest?.metadata?.name)}`,
        name: String(manifest?.metadata?.name),
        opts: {
            protect: false,
            ignoreChanges: [],
            aliases: [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
            additionalSecretOutputs: [],
        },
        stackTags: new Map(),
        ...typeChecks(type, props),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicableSignal(reason);
        },
    };
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource!];
    try {
        for (const v of validations) await v(args, (message) => violations.push(message));
    } catch (err) {
        if (err instanceof NotApplicableSignal) return { violations, notApplicable: err.message };
        throw err;
    }
    return { violations, notApplicable: undefined };
}

export interface FakeResource {
    readonly type: string;
    readonly name: string;
    readonly props: any;
    readonly parent?: string;
    readonly dependencies?: readonly string[];
}

export function urnOf(r: FakeResource, stack = "test"): string {
    return `urn:pulumi:${stack}::env-progression::${r.type}::${r.name}`;
}

/** Runs one stack policy over resources, with engine-shaped args. */
export async function runStack(
    policy: StackValidationPolicy,
    resources: readonly FakeResource[],
    config: Record<string, unknown> = {},
): Promise<Outcome & { urns: (string | undefined)[] }> {
    const violations: string[] = [];
    const urns: (string | undefined)[] = [];
    const byUrn = new Map<string, PolicyResource>();
    const list: PolicyResource[] = resources.map((r) => {
        const props = unknownCheckingProxy(r.props ?? {});
        const pr: PolicyResource = {
            type: r.type,
            name: r.name,
            urn: urnOf(r),
            props,
            opts: {
                protect: false,
                ignoreChanges: [],
                aliases: [],
                customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
                additionalSecretOutputs: [],
            },
            dependencies: [],
            propertyDependencies: {},
            ...typeChecks(r.type, props),
        };
        byUrn.set(pr.urn, pr);
        return pr;
    });
    resources.forEach((r, i) => {
        const pr = list[i]!;
        if (r.parent) pr.parent = byUrn.get(r.parent);
        pr.dependencies = (r.dependencies ?? []).map((d) => byUrn.get(d)!).filter(Boolean);
    });
    const args: StackValidationArgs = {
        resources: list,
        stackTags: new Map(),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicableSignal(reason);
        },
    };
    try {
        await policy.validateStack(args, (message, urn) => {
            violations.push(message);
            urns.push(urn);
        });
    } catch (err) {
        if (err instanceof NotApplicableSignal) return { violations, urns, notApplicable: err.message };
        throw err;
    }
    return { violations, urns, notApplicable: undefined };
}

/**
 * The resources the program registers for one environment, as the engine lists them: the
 * component tree of components/environment.ts with the builders' manifests as props and the
 * children named as the components name them; the SmokeTest depending on the app component and
 * its children (what `dependsOn: [app]` records), and the LiveSwitch on the SmokeTest and its run
 * (what `dependsOn: [smoke]` records) and on the live Service it points.
 */
export function stackOf(env: EnvironmentName): FakeResource[] {
    const config = readStackConfig(env);
    const objects = manifestsOf(env);
    const envC: FakeResource = { type: "progression:env:Environment", name: env, props: {} };
    const nsC: FakeResource = { type: "progression:env:EnvironmentNamespace", name: `${env}-namespace`, props: {}, parent: urnOf(envC) };
    const isoC: FakeResource = { type: "progression:network:NetworkIsolation", name: `${env}-isolation`, props: {}, parent: urnOf(envC) };
    const appC: FakeResource = { type: "progression:app:AppDeployment", name: `${env}-app`, props: {}, parent: urnOf(envC) };
    // components/app.ts: the Deployment takes the component's name, the others a suffix.
    const appChild = (o: KubernetesObject): string => {
        const suffix: Record<string, string> = { ConfigMap: "-config", Secret: "-secrets", Deployment: "", PodDisruptionBudget: "-pdb" };
        if (o.kind === "Service") return o.metadata.name === `${config.app.name}-preview` ? `${env}-app-preview` : `${env}-app-service`;
        if (!(o.kind in suffix)) throw new Error(`stackOf: no component name for ${o.kind} ${o.metadata.name}`);
        return `${env}-app${suffix[o.kind]}`;
    };
    const k8s = objects.map((o): FakeResource => {
        const parent = o.kind === "Namespace" ? nsC : o.kind === "NetworkPolicy" ? isoC : appC;
        const name = o.kind === "Namespace" ? `${env}-namespace` : o.kind === "NetworkPolicy" ? `${env}-isolation-${o.metadata.name}` : appChild(o);
        return { type: pulumiType(o), name, props: o, parent: urnOf(parent) };
    });
    const appChildren = k8s.filter((r) => r.parent === urnOf(appC)).map((r) => urnOf(r));
    const smoke: FakeResource = {
        type: "progression:verify:SmokeTest",
        name: `${env}-smoke`,
        props: {},
        parent: urnOf(envC),
        dependencies: [urnOf(appC), ...appChildren],
    };
    const run: FakeResource = {
        type: "pulumi-nodejs:dynamic/progression:SmokeRun",
        name: `${env}-smoke-run`,
        props: { baseUrl: config.smoke.previewUrl, trigger: UNKNOWN_STRING },
        parent: urnOf(smoke),
        dependencies: [urnOf(appC), ...appChildren],
    };
    const liveService = k8s.find((r) => r.name === `${env}-app-service`)!;
    const liveC: FakeResource = {
        type: "progression:release:LiveSwitch",
        name: `${env}-live`,
        props: {},
        parent: urnOf(envC),
        dependencies: [urnOf(smoke), urnOf(run)],
    };
    const liveRun: FakeResource = {
        type: "pulumi-nodejs:dynamic/progression:LiveSwitch",
        name: `${env}-live-run`,
        props: { namespace: config.namespace, service: liveService.props.metadata.name, revision: UNKNOWN_STRING, replicas: config.app.replicas },
        parent: urnOf(liveC),
        dependencies: [urnOf(smoke), urnOf(run), urnOf(liveService)],
    };
    return [envC, nsC, isoC, appC, ...k8s, smoke, run, liveC, liveRun];
}

// --- through @pulumi/policy's analyzer RPC handlers ----------------------------------------------

type Callback<R> = (err: Error | undefined, response: R | undefined) => void;
interface ServerApi {
    makeAnalyzeRpcFun(
        pack: string,
        version: string,
        level: EnforcementLevel,
        policies: unknown[],
    ): (call: { request: analyzerproto.AnalyzeRequest }, cb: Callback<analyzerproto.AnalyzeResponse>) => Promise<void>;
    makeAnalyzeStackRpcFun(
        pack: string,
        version: string,
        level: EnforcementLevel,
        policies: unknown[],
    ): (call: { request: analyzerproto.AnalyzeStackRequest }, cb: Callback<analyzerproto.AnalyzeResponse>) => Promise<void>;
}
// Exported at runtime for the library's own tests; untyped.
const server = policyServer as unknown as ServerApi;

export interface Diagnostic {
    readonly policy: string;
    readonly message: string;
    readonly level: "advisory" | "mandatory" | "disabled" | "remediate";
    readonly urn: string;
}

const LEVELS = ["advisory", "mandatory", "disabled", "remediate"] as const;

export function toDiagnostics(resp: analyzerproto.AnalyzeResponse): { diagnostics: Diagnostic[]; notApplicable: { policy: string; reason: string }[] } {
    return {
        diagnostics: resp.getDiagnosticsList().map((d) => ({
            policy: d.getPolicyname(),
            message: d.getMessage(),
            level: LEVELS[d.getEnforcementlevel()] ?? "advisory",
            urn: d.getUrn(),
        })),
        notApplicable: resp.getNotApplicableList().map((n) => ({ policy: n.getPolicyName(), reason: n.getReason() })),
    };
}

function call<Req, R>(fn: (call: { request: Req }, cb: Callback<R>) => Promise<void>, request: Req): Promise<R> {
    return new Promise((resolve, reject) => {
        void fn({ request }, (err, resp) => (err ? reject(err) : resolve(resp!)));
    });
}

/** An Analyze request as the engine sends it for one resource. */
export function analyzeRequest(stack: string, manifest: any, type = pulumiType(manifest)): analyzerproto.AnalyzeRequest {
    const req = new analyzerproto.AnalyzeRequest();
    req.setType(type);
    req.setUrn(`urn:pulumi:${stack}::env-progression::${type}::${String(manifest?.metadata?.name)}`);
    req.setName(String(manifest?.metadata?.name));
    req.setProperties(structproto.Struct.fromJavaScript(manifest));
    req.setOptions(new analyzerproto.AnalyzerResourceOptions());
    return req;
}

/** An AnalyzeStack request as the engine sends it at the end of a preview. */
export function analyzeStackRequest(resources: readonly FakeResource[]): analyzerproto.AnalyzeStackRequest {
    const req = new analyzerproto.AnalyzeStackRequest();
    req.setResourcesList(
        resources.map((r) => {
            const res = new analyzerproto.AnalyzerResource();
            res.setType(r.type);
            res.setName(r.name);
            res.setUrn(urnOf(r));
            res.setProperties(structproto.Struct.fromJavaScript(r.props ?? {}));
            const opts = new analyzerproto.AnalyzerResourceOptions();
            if (r.parent) opts.setParent(r.parent);
            res.setOptions(opts);
            if (r.parent) res.setParent(r.parent);
            res.setDependenciesList([...(r.dependencies ?? [])]);
            return res;
        }),
    );
    return req;
}

/** Analyzes one resource the way the engine's Analyze RPC does, with the pack for `env`. */
export async function analyze(env: EnvironmentName, manifest: any, type = pulumiType(manifest)) {
    const ctx = contextFor(env);
    const fn = server.makeAnalyzeRpcFun("env-progression", "0.1.0", enforcementFor(ctx), policies(ctx));
    return toDiagnostics(await call(fn, analyzeRequest(env, manifest, type)));
}

/** Analyzes a stack the way the engine's AnalyzeStack RPC does, with the pack for `env` (or for `ctx`). */
export async function analyzeStack(env: EnvironmentName, resources: readonly FakeResource[], ctx: PackContext = contextFor(env)) {
    const fn = server.makeAnalyzeStackRpcFun("env-progression", "0.1.0", enforcementFor(ctx), policies(ctx));
    return toDiagnostics(await call(fn, analyzeStackRequest(resources)));
}

/** A stack resource: a NetworkPolicy admitting every namespace to `env`'s pods, as a careless change would add. */
export function admitAll(env: string) {
    return {
        type: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        name: `${env}-isolation-allow-all-namespaces`,
        props: {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: { name: "allow-all-namespaces", namespace: `web-${env}` },
            spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: {} }] }] },
        },
    };
}
