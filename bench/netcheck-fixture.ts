// Scaled inputs for the netcheck benchmark: N namespaces named team-<i>-<env>, each with W
// workloads (the first, `web`, behind a Service on a named port; the others internal workers) and
// the project's own four NetworkPolicies per namespace, shaped as components/networkIsolation.ts builds
// them. Written one YAML file per namespace, as a repository of manifests would hold them.
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { NAMESPACE_NAME_LABEL } from "../kube/labels";

const ENVS = ["dev", "staging", "prod"] as const;
const NAME_LABEL = NAMESPACE_NAME_LABEL;

export interface ScaledSpec {
    readonly namespaces: number;
    readonly workloadsPerNamespace: number;
}

/** The objects of one namespace: Namespace, workloads, the web Service and four policies. */
export function namespaceObjects(index: number, workloads: number): Record<string, unknown>[] {
    const env = ENVS[index % ENVS.length]!;
    const ns = `team-${Math.floor(index / ENVS.length)}-${env}`;
    const web = { "app.kubernetes.io/name": "web", "app.kubernetes.io/instance": `web-${ns}` };
    const objects: Record<string, unknown>[] = [{ apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { environment: env } } }];
    for (let w = 0; w < workloads; w++) {
        const name = w === 0 ? "web" : `worker-${w}`;
        const labels = w === 0 ? { ...web, environment: env } : { "app.kubernetes.io/name": name, environment: env };
        const ports = w === 0 ? [{ name: "http", containerPort: 8080, protocol: "TCP" }] : [{ name: "metrics", containerPort: 9090, protocol: "TCP" }];
        objects.push({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name, namespace: ns, labels },
            spec: {
                replicas: 1,
                selector: { matchLabels: w === 0 ? web : { "app.kubernetes.io/name": name } },
                template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "registry.example/app:1.0.0", ports }] } },
            },
        });
    }
    objects.push({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web", namespace: ns },
        spec: { selector: web, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
    });
    const policy = (name: string, spec: Record<string, unknown>) => ({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name, namespace: ns },
        spec,
    });
    objects.push(
        policy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
        policy("allow-same-environment", {
            podSelector: {},
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ from: [{ podSelector: {} }] }],
            egress: [{ to: [{ podSelector: {} }] }],
        }),
        policy("allow-dns", {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
                {
                    to: [{ namespaceSelector: { matchLabels: { [NAME_LABEL]: "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                    ports: [
                        { protocol: "UDP", port: 53 },
                        { protocol: "TCP", port: 53 },
                    ],
                },
            ],
        }),
        policy("allow-ingress-controller", {
            podSelector: { matchLabels: web },
            policyTypes: ["Ingress"],
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NAME_LABEL]: "ingress-nginx" } } }], ports: [{ protocol: "TCP", port: "http" }] }],
        }),
    );
    return objects;
}

/** Writes the scaled manifests into `dir` (created, emptied first); returns the object count. */
export function writeScaledManifests(dir: string, spec: ScaledSpec): number {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    let count = 0;
    for (let i = 0; i < spec.namespaces; i++) {
        const objects = namespaceObjects(i, spec.workloadsPerNamespace);
        count += objects.length;
        const text = objects.map((o) => stringify(o)).join("---\n");
        fs.writeFileSync(path.join(dir, `ns-${String(i).padStart(5, "0")}.yaml`), text);
    }
    return count;
}

if (require.main === module) {
    const [dir, namespaces, workloads] = process.argv.slice(2);
    if (!dir || !namespaces) {
        process.stderr.write("usage: netcheck-fixture.ts DIR NAMESPACES [WORKLOADS_PER_NAMESPACE=5]\n");
        process.exit(2);
    }
    const n = writeScaledManifests(dir, { namespaces: Number(namespaces), workloadsPerNamespace: Number(workloads ?? 5) });
    process.stdout.write(`${n} objects in ${dir}\n`);
}
