// The model netcheck builds from plain manifests (as `kubectl apply -f DIR` takes them, or as the
// API server lists them): environments from Namespace labels, pods and ports from workloads and
// Services, the attacker copying what a tenant can copy.
import { describe, expect, it } from "vitest";
import { flattenObjects, isolationModelFromManifests, ManifestError } from "../../netpol";

const ns = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
const deployment = (namespace: string, name: string, labels: Record<string, string>, ports: unknown[]) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "c", image: "x:1", ports }] } } },
});
const service = (namespace: string, name: string, selector: Record<string, string>, ports: unknown[]) => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace },
    spec: { selector, ports },
});

describe("isolationModelFromManifests", () => {
    const objects = [
        ns("web-prod", { environment: "prod", "app.kubernetes.io/part-of": "shop", "pod-security.kubernetes.io/enforce": "restricted" }),
        ns("web-dev", { environment: "dev" }),
        deployment("web-prod", "web", { app: "web" }, [
            { name: "http", containerPort: 8080 },
            { name: "metrics", containerPort: 9090 },
        ]),
        service("web-prod", "web", { app: "web" }, [{ port: 80, targetPort: "http" }]),
        deployment("web-dev", "web", { app: "web" }, [{ containerPort: 3000 }]),
        { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "p", namespace: "web-prod" }, spec: { podSelector: {} } },
    ];
    const { model, policies, warnings } = isolationModelFromManifests(objects);

    it("finds the environments by their label, in promotion order", () => {
        expect(model.environments.map((e) => `${e.environment}:${e.namespace}:${e.pods.join(",")}`)).toEqual([
            "dev:web-dev:web-dev/web",
            "prod:web-prod:web-prod/web",
        ]);
        expect(policies).toHaveLength(1);
    });

    it("takes the app port from the Service's named targetPort, else the first TCP container port (with a warning)", () => {
        expect(model.environments[1]?.apps).toEqual([{ pod: "web-prod/web", probe: { name: "app-8080", port: 8080, protocol: "TCP" } }]);
        expect(model.environments[0]?.apps).toEqual([{ pod: "web-dev/web", probe: { name: "app-3000", port: 3000, protocol: "TCP" } }]);
        expect(warnings).toContain("Deployment web-dev/web: no Service selects it; its first TCP container port 3000 is taken as the app port");
        expect(model.probes.map((p) => p.name)).toEqual(["app-3000", "app-8080", "dns-udp", "dns-tcp"]);
    });

    it("keeps container ports for named ports", () => {
        expect(model.pods.find((p) => p.namespace === "web-prod")?.ports).toEqual([
            { name: "http", containerPort: 8080, protocol: "TCP" },
            { name: "metrics", containerPort: 9090, protocol: "TCP" },
        ]);
    });

    it("gives the attacker every label of prod a tenant could copy, but not the name label", () => {
        expect(model.attacker).toEqual({ namespace: "attacker", pods: ["attacker/web"], impersonates: "web-prod" });
        expect(model.namespaces.find((n) => n.name === "attacker")?.labels).toEqual({
            environment: "prod",
            "app.kubernetes.io/part-of": "shop",
            "pod-security.kubernetes.io/enforce": "restricted",
        });
        expect(model.pods.find((p) => p.namespace === "attacker")?.labels).toEqual({ app: "web" });
    });

    it("adds kube-system's kube-dns and the ingress controller when absent", () => {
        expect(model.dns).toEqual(["kube-system/kube-dns"]);
        expect(model.ingressController.namespace).toBe("ingress-nginx");
        expect(isolationModelFromManifests(objects, { ingressNamespace: "traefik" }).model.ingressController).toEqual({
            namespace: "traefik",
            pods: ["traefik/controller"],
        });
    });

    it("uses the real DNS and controller workloads when the manifests (or the cluster) have them", () => {
        const m = isolationModelFromManifests([
            ...objects,
            ns("kube-system"),
            deployment("kube-system", "coredns", { "k8s-app": "kube-dns" }, [{ name: "dns", containerPort: 53, protocol: "UDP" }]),
            deployment("ingress-nginx", "ingress-nginx-controller", { "app.kubernetes.io/name": "ingress-nginx" }, [{ containerPort: 80 }]),
        ]).model;
        expect(m.dns).toEqual(["kube-system/coredns"]);
        expect(m.ingressController.pods).toEqual(["ingress-nginx/ingress-nginx-controller"]);
    });

    it("reads API server lists, whose items carry no kind", () => {
        const lists = [
            { kind: "NamespaceList", items: [{ metadata: { name: "prod", labels: { environment: "prod" } } }] },
            { kind: "List", items: [{ kind: "Namespace", metadata: { name: "dev", labels: { environment: "dev" } } }] },
        ];
        expect(flattenObjects(lists).map((o) => `${String(o["kind"])}`)).toEqual(["Namespace", "Namespace"]);
        expect(isolationModelFromManifests(lists).model.environments.map((e) => e.environment)).toEqual(["dev", "prod"]);
    });

    it("judges an environment without workloads with a placeholder pod, and says so", () => {
        const r = isolationModelFromManifests([ns("prod", { environment: "prod" })]);
        expect(r.model.environments[0]?.pods).toEqual(["prod/pod"]);
        expect(r.warnings).toContain("namespace prod: no Deployment or other workload found; judged with a placeholder pod without labels");
    });

    it("warns when two namespaces claim one environment, and when a policy's namespace is missing", () => {
        const r = isolationModelFromManifests([
            ns("a", { environment: "prod" }),
            ns("b", { environment: "prod" }),
            { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "p", namespace: "ghost" }, spec: { podSelector: {} } },
        ]);
        expect(r.warnings).toContain("namespaces a, b all claim environment=prod; they are judged as one environment");
        expect(r.warnings).toContain("NetworkPolicy ghost/p: its namespace ghost is not among the manifests; modelled with no labels but its name");
    });

    it("refuses manifests without any environment namespace, saying what to include", () => {
        expect(() => isolationModelFromManifests([deployment("default", "web", { app: "web" }, [])])).toThrow(ManifestError);
        expect(() => isolationModelFromManifests([])).toThrow(
            /no Namespace with an 'environment' label was found.*Fix: include the environments' Namespace objects/,
        );
    });
});
