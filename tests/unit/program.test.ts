// The whole program under Pulumi mocks, once per committed stack file: what it registers, with
// which inputs, through which provider, in which order. Calls nobody mocked fail the test.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/environments";
import { checksum, configData, CONFIG_CHECKSUM } from "../../components/app";
import { readStackConfig } from "../../config/stackFile";

const ROOT = path.resolve(__dirname, "../..");
// The dynamic resource SmokeTest registers (module "progression", type "SmokeRun").
const SMOKE_TYPE = "pulumi-nodejs:dynamic/progression:SmokeRun";

interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, any>;
    provider: string | undefined;
}

let tmp: string;
beforeAll(() => {
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
            ...ENVIRONMENTS.map((e) => `  - name: ${e}\n    context: { cluster: ${e}-cluster }`),
            "current-context: dev",
        ].join("\n"),
    );
    process.env["KUBECONFIG"] = kubeconfig;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The config the engine would hand the program: stack values over Pulumi.yaml defaults. */
function engineConfig(stack: EnvironmentName, overrides: Record<string, unknown>): { config: Record<string, string>; secretKeys: string[] } {
    const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { default?: unknown }> };
    const stackFile = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const merged: Record<string, unknown> = {};
    for (const [k, decl] of Object.entries(project.config)) if (decl.default !== undefined) merged[`env-progression:${k}`] = decl.default;
    Object.assign(merged, stackFile.config);
    // Each environment's operators set its secrets; the test sets different ones per stack.
    merged["env-progression:DATABASE_URL"] = `postgres://app:${stack}-pw@db.${stack}:5432/app`;
    merged["env-progression:API_TOKEN"] = `${stack}-token`;
    for (const [k, v] of Object.entries(overrides)) merged[`env-progression:${k}`] = v;
    const config = Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    return { config, secretKeys: ["env-progression:DATABASE_URL", "env-progression:API_TOKEN"] };
}

async function runProgram(stack: EnvironmentName, overrides: Record<string, unknown> = {}, recorded: Recorded[] = []) {
    vi.resetModules();
    const pulumi = await import("@pulumi/pulumi");
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                recorded.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
                const state = args.type === SMOKE_TYPE
                    ? { ...args.inputs, passedAt: "2026-01-01T00:00:00Z", results: [] }
                    : args.inputs;
                return { id: `${args.name}-id`, state };
            },
            call(args) {
                throw new Error(`unexpected call to ${args.token}: the program must not invoke functions`);
            },
        },
        "env-progression",
        stack,
        false,
    );
    const { config, secretKeys } = engineConfig(stack, overrides);
    pulumi.runtime.setAllConfig(config, secretKeys);
    const program = await import("../../index");
    const settle = <T>(o: { apply: (f: (v: T) => void) => unknown }) => new Promise<T>((resolve) => o.apply(resolve));
    const outputs = {
        namespace: await settle<string>(program.namespace),
        serviceName: await settle<string>(program.serviceName),
        serviceUrl: await settle<string>(program.serviceUrl),
        passedAt: await settle<string>(program.smoke.passedAt),
    };
    // Drain this run's outstanding registrations before the next run installs new mocks.
    await pulumi.runtime.disconnect();
    return { recorded, outputs, program };
}

// How the mock monitor hands over a secret input: a wrapper carrying Pulumi's secret signature.
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const isSecret = (v: unknown) => typeof v === "object" && v !== null && Object.values(v).includes(SECRET_SIG);

const of = (recorded: Recorded[], type: string) => recorded.filter((r) => r.type === type);
const one = (recorded: Recorded[], type: string) => {
    const found = of(recorded, type);
    expect(found, `exactly one ${type}`).toHaveLength(1);
    return found[0]!;
};

describe.each(ENVIRONMENTS)("the program on Pulumi.%s.yaml", (stack) => {
    let run: Awaited<ReturnType<typeof runProgram>>;
    beforeAll(async () => {
        run = await runProgram(stack);
    }, 60_000);

    it("exports the namespace, service and its in-cluster URL", () => {
        expect(run.outputs).toMatchObject({
            namespace: `web-${stack}`,
            serviceName: "web",
            serviceUrl: `http://web.web-${stack}.svc.cluster.local:8080`,
        });
    });

    it("pins one Kubernetes provider to the stack's own context", () => {
        const provider = one(run.recorded, "pulumi:providers:kubernetes");
        expect(provider.inputs["context"]).toBe(stack);
        expect(provider.inputs["kubeconfig"]).toContain(`https://${stack}.k8s.example.com:6443`);
        const k8sObjects = run.recorded.filter((r) => r.type.startsWith("kubernetes:"));
        expect(k8sObjects.length).toBeGreaterThan(0);
        for (const r of k8sObjects) expect(r.provider, `${r.type} ${r.name}`).toMatch(new RegExp(`::${stack}-k8s::`));
    });

    it("labels the namespace with its environment and Pod Security level", () => {
        const labels = one(run.recorded, "kubernetes:core/v1:Namespace").inputs["metadata"].labels;
        expect(labels.environment).toBe(stack);
        expect(labels["pod-security.kubernetes.io/enforce"]).toBe(stack === "dev" ? "baseline" : "restricted");
    });

    it("creates namespace, then isolation, then the app, then the smoke test", () => {
        const order = run.recorded.map((r) => r.type);
        const first = (t: string) => order.indexOf(t);
        const last = (t: string) => order.lastIndexOf(t);
        expect(last("kubernetes:core/v1:Namespace")).toBeLessThan(first("kubernetes:networking.k8s.io/v1:NetworkPolicy"));
        expect(last("kubernetes:networking.k8s.io/v1:NetworkPolicy")).toBeLessThan(first("kubernetes:apps/v1:Deployment"));
        expect(last("kubernetes:apps/v1:Deployment")).toBeLessThan(first(SMOKE_TYPE));
    });

    it("deploys the configured replicas, a checksum of its config, and a PDB only when replicated", () => {
        const cfg = readStackConfig(stack);
        const deployment = one(run.recorded, "kubernetes:apps/v1:Deployment").inputs;
        expect(deployment.spec.replicas).toBe({ dev: 1, staging: 3, prod: 50 }[stack]);
        expect(deployment.spec.template.metadata.annotations[CONFIG_CHECKSUM]).toBe(checksum(configData(cfg.app)));
        expect(of(run.recorded, "kubernetes:policy/v1:PodDisruptionBudget")).toHaveLength(stack === "dev" ? 0 : 1);
    });

    it("stores feature flags in the ConfigMap and secrets only in the Secret", () => {
        const cm = one(run.recorded, "kubernetes:core/v1:ConfigMap").inputs;
        expect(cm.data).toEqual(configData(readStackConfig(stack).app));
        expect(JSON.stringify(cm)).not.toContain(`${stack}-token`);
        const secret = one(run.recorded, "kubernetes:core/v1:Secret").inputs;
        expect(isSecret(secret.stringData), "stringData is a secret in state").toBe(true);
        expect(secret.stringData.value).toEqual({ DATABASE_URL: `postgres://app:${stack}-pw@db.${stack}:5432/app`, API_TOKEN: `${stack}-token` });
    });

    it("registers the isolation policies in the environment's namespace", () => {
        const policies = of(run.recorded, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
        expect(policies.map((p) => p.inputs["metadata"].name).sort()).toEqual(["allow-dns", "allow-ingress-controller", "allow-same-environment", "default-deny"]);
        for (const p of policies) expect(p.inputs["metadata"].namespace).toBe(`web-${stack}`);
    });

    it("gates the environment on a smoke test of its base URL", () => {
        const smoke = one(run.recorded, SMOKE_TYPE);
        expect(smoke.inputs["baseUrl"]).toBe(readStackConfig(stack).smoke.baseUrl);
        expect(typeof smoke.inputs["trigger"]).toBe("string");
    });
});

describe("the smoke trigger", () => {
    it("changes when a feature flag changes, so the checks run again", async () => {
        const a = await runProgram("staging");
        const b = await runProgram("staging", { featureFlags: { newCheckout: true, searchV2: true } });
        const trigger = (r: typeof a) => one(r.recorded, SMOKE_TYPE).inputs["trigger"];
        expect(trigger(b)).not.toBe(trigger(a));
        const again = await runProgram("staging");
        expect(trigger(again)).toBe(trigger(a));
    }, 60_000);
});

describe("the program's edge", () => {
    it("refuses to register anything when the config is wrong, reporting all problems at once", async () => {
        await expect(runProgram("prod", { replicas: 1, image: "ghcr.io/env-progression/web:latest" })).rejects.toThrow(
            /stack 'prod' has 2 configuration problems:\n {2}- env-progression:image: "ghcr.io\/env-progression\/web:latest" is tagged latest[^\n]*\n {2}- env-progression:replicas: 1 is not allowed/,
        );
    });

    it("registers nothing at all when the config is wrong", async () => {
        const recorded: Recorded[] = [];
        await expect(runProgram("staging", { replicas: 0 }, recorded)).rejects.toThrow(/replicas: 0 is not allowed/);
        expect(recorded).toEqual([]);
    });

    it("refuses a prod stack pointed at the dev context before creating anything", async () => {
        const recorded: Recorded[] = [];
        await expect(runProgram("prod", { kubeContext: "dev", kubeServer: "" }, recorded)).rejects.toThrow(
            /pointed at context "dev" \(cluster "dev-cluster"\), which is named for dev\. Refusing before creating anything/,
        );
        expect(recorded).toEqual([]);
    });
});
