// resources/kubernetes.ts registers each kind as @pulumi/kubernetes's own class does: the same type
// token, inputs, plugin version and secret fields, so a stack created with either is unchanged by
// the other. Both register here under Pulumi mocks, side by side, and the requests are compared.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Kind, KubernetesProvider, KubernetesResource, kubernetesType } from "../../resources/kubernetes";
import { tapMonitor } from "./helpers/monitor";

interface Request {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    version: string;
    secretOutputs: string[];
}

const requests: Request[] = [];
const outputs = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                outputs.set(args.name, args.inputs);
                return { id: `${args.name}-id`, state: { ...args.inputs, status: { observedGeneration: 1 } } };
            },
            call: () => {
                throw new Error("no calls expected");
            },
        },
        "kubernetes-resources",
        "test",
        false,
    );
    tapMonitor(pulumi, "registerResource", (req) => {
        requests.push({
            type: req.getType(),
            name: req.getName(),
            inputs: req.getObject()?.toJavaScript() ?? {},
            version: req.getVersion(),
            secretOutputs: req.getAdditionalsecretoutputsList(),
        });
    });
});
afterAll(async () => {
    await pulumi.runtime.disconnect();
});

const meta = { name: "web", namespace: "web-dev", labels: { app: "web" } };
/** Each kind with fields of the shape the builders render. */
const CASES: { kind: Kind; args: Record<string, unknown>; theirs: (name: string, args: any) => pulumi.CustomResource }[] = [
    { kind: "Namespace", args: { metadata: { name: "web-dev", labels: { env: "dev" } } }, theirs: (n, a) => new k8s.core.v1.Namespace(n, a) },
    { kind: "ConfigMap", args: { metadata: meta, immutable: true, data: { FLAG_X: "true" } }, theirs: (n, a) => new k8s.core.v1.ConfigMap(n, a) },
    { kind: "Secret", args: { metadata: meta, type: "Opaque", immutable: true, stringData: { API_TOKEN: "s3cret" } }, theirs: (n, a) => new k8s.core.v1.Secret(n, a) },
    { kind: "Service", args: { metadata: meta, spec: { selector: { app: "web" }, ports: [{ port: 8080 }] } }, theirs: (n, a) => new k8s.core.v1.Service(n, a) },
    {
        kind: "Deployment",
        args: { metadata: meta, spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "web:1" }] } } } },
        theirs: (n, a) => new k8s.apps.v1.Deployment(n, a),
    },
    { kind: "NetworkPolicy", args: { metadata: meta, spec: { podSelector: {}, policyTypes: ["Ingress"] } }, theirs: (n, a) => new k8s.networking.v1.NetworkPolicy(n, a) },
    { kind: "PodDisruptionBudget", args: { metadata: meta, spec: { maxUnavailable: 1, selector: { matchLabels: { app: "web" } } } }, theirs: (n, a) => new k8s.policy.v1.PodDisruptionBudget(n, a) },
];

const settle = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
const request = (name: string) => {
    const found = requests.filter((r) => r.name === name);
    expect(found, name).toHaveLength(1);
    return found[0]!;
};
// Compared: type, inputs, plugin version, secret outputs. Not compared: the name (each differs) and
// @pulumi/kubernetes's aliases for a Deployment's retired API versions, which no stack of this
// program ever had.
const comparable = ({ name: _, ...r }: Request) => r;

describe("a KubernetesResource", () => {
    it.each(CASES)("registers a $kind as @pulumi/kubernetes does", async ({ kind, args, theirs }) => {
        const ours = new KubernetesResource(kind, `ours-${kind}`, args);
        const reference = theirs(`theirs-${kind}`, args);
        await Promise.all([settle(ours.urn), settle(reference.urn), settle(ours.metadata)]);
        expect(comparable(request(`ours-${kind}`))).toEqual(comparable(request(`theirs-${kind}`)));
        expect(request(`ours-${kind}`).type).toBe(kubernetesType(kind));
        expect(request(`ours-${kind}`).version).toMatch(/^\d+\.\d+\.\d+$/);
        // What the engine hands the provider: apiVersion and kind set, the builder's fields as given.
        expect(outputs.get(`ours-${kind}`)).toEqual(outputs.get(`theirs-${kind}`));
        expect(await settle(ours.metadata)).toEqual(args["metadata"]);
    });

    it("holds a Secret's values secret in its outputs, given plain", async () => {
        const ours = new KubernetesResource("Secret", "plain-secret", { metadata: meta, stringData: { API_TOKEN: "s3cret" } });
        const field = (ours as unknown as Record<string, pulumi.Output<unknown>>)["stringData"]!;
        expect(await pulumi.isSecret(field)).toBe(true);
        expect(request("plain-secret").secretOutputs).toEqual(expect.arrayContaining(["data", "stringData"]));
        // A ConfigMap's are not.
        const cm = new KubernetesResource("ConfigMap", "plain-config", { metadata: meta, data: { A: "1" } });
        expect(await pulumi.isSecret((cm as unknown as Record<string, pulumi.Output<unknown>>)["data"]!)).toBe(false);
    });

    it("reads back what the API server fills in", async () => {
        const ours = new KubernetesResource("Deployment", "with-status", { metadata: meta, spec: {} });
        const status = (ours as unknown as Record<string, pulumi.Output<unknown>>)["status"]!;
        expect(await settle(status)).toEqual({ observedGeneration: 1 });
    });
});

describe("a KubernetesProvider", () => {
    it("registers the provider @pulumi/kubernetes's Provider does, with the same settings", async () => {
        const ours = new KubernetesProvider("ours-provider", { kubeconfig: pulumi.secret("apiVersion: v1"), context: "dev" });
        const reference = new k8s.Provider("theirs-provider", { kubeconfig: pulumi.secret("apiVersion: v1"), context: "dev" });
        await Promise.all([settle(ours.urn), settle(reference.urn)]);
        const [a, b] = [request("ours-provider"), request("theirs-provider")];
        expect(a.type).toBe("pulumi:providers:kubernetes");
        // @pulumi/kubernetes adds the settings it reads from PULUMI_K8S_* variables, none set here.
        expect(comparable(a)).toEqual(comparable(b));
    });
});
