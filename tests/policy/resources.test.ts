// Resource policies, one fixture per kind: the compliant manifest the program's builders produce
// from the committed stack file, then one broken field per test and the exact violation. Policies
// run through their validateResource with engine-shaped args (fixtures.ts).
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/environments";
import { RESOURCE_CHECKS } from "../../policy/pack";
import { appDeployment, appDeploymentName, manifestOf, manifestsOf, pulumiType, resourcePolicyNamed, runResource } from "./fixtures";

const violations = async (env: EnvironmentName, policy: string, manifest: unknown, config: Record<string, unknown> = {}) => {
    const outcome = await runResource(resourcePolicyNamed(env, policy), manifest, config);
    expect(outcome.notApplicable).toBeUndefined();
    return outcome.violations;
};

const app = (m: any) => m.spec.template.spec.containers[0];

describe("every resource policy on the committed stacks", () => {
    for (const env of ENVIRONMENTS) {
        it(`finds nothing to report in ${env}'s objects`, async () => {
            const found: string[] = [];
            for (const m of manifestsOf(env)) {
                for (const check of RESOURCE_CHECKS) {
                    const outcome = await runResource(resourcePolicyNamed(env, check.name), m);
                    found.push(...outcome.violations);
                }
            }
            expect(found).toEqual([]);
        });
    }

    it("declares each policy not applicable to kinds it does not judge, and never runs it there", async () => {
        const service = manifestOf("prod", "Service");
        const outcome = await runResource(resourcePolicyNamed("prod", "replicas-minimum"), service);
        expect(outcome).toEqual({ violations: [], notApplicable: "applies to Kubernetes Deployment, StatefulSet, ReplicaSet, ReplicationController only" });
        const job = {
            apiVersion: "batch/v1",
            kind: "Job",
            metadata: { name: "migrate", namespace: "web-prod" },
            spec: { template: { spec: { containers: [{ name: "m", image: "x" }] } } },
        };
        expect((await runResource(resourcePolicyNamed("prod", "probes-present"), job)).notApplicable).toBe(
            "applies to Kubernetes Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Pod only",
        );
        // Not Kubernetes at all, e.g. the smoke test's dynamic resource.
        const smoke = await runResource(
            resourcePolicyNamed("prod", "image-pinned"),
            { baseUrl: "http://web" },
            {},
            "pulumi-nodejs:dynamic/progression:SmokeRun",
        );
        expect(smoke.notApplicable).toMatch(/^applies to Kubernetes Deployment/);
    });
});

describe("namespace-labels", () => {
    it("flags an environment label of another environment", async () => {
        const ns = manifestOf("prod", "Namespace");
        ns.metadata.labels.environment = "staging";
        expect(await violations("prod", "namespace-labels", ns)).toEqual([
            "Namespace web-prod is labelled environment=staging, but this stack deploys prod. Fix: label it environment=prod, or preview the staging stack instead.",
        ]);
    });

    it("flags a missing environment label", async () => {
        const ns = manifestOf("staging", "Namespace");
        delete ns.metadata.labels.environment;
        expect(await violations("staging", "namespace-labels", ns)).toEqual([
            "Namespace web-staging has no 'environment' label; this stack deploys staging. Fix: label it environment=staging (components/namespace.ts namespaceManifest does).",
        ]);
    });

    it("flags Pod Security enforced below the environment's level", async () => {
        const ns = manifestOf("prod", "Namespace");
        ns.metadata.labels["pod-security.kubernetes.io/enforce"] = "baseline";
        expect(await violations("prod", "namespace-labels", ns)).toEqual([
            'Namespace web-prod sets pod-security.kubernetes.io/enforce=baseline; prod enforces Pod Security at least "restricted". Fix: label it pod-security.kubernetes.io/enforce=restricted.',
        ]);
    });

    it("flags a missing Pod Security enforce label", async () => {
        const ns = manifestOf("dev", "Namespace");
        delete ns.metadata.labels["pod-security.kubernetes.io/enforce"];
        expect(await violations("dev", "namespace-labels", ns)).toEqual([
            'Namespace web-dev has no pod-security.kubernetes.io/enforce label; dev enforces Pod Security "baseline". Fix: label it pod-security.kubernetes.io/enforce=baseline.',
        ]);
    });

    it("flags a warn label that is not a Pod Security level", async () => {
        const ns = manifestOf("staging", "Namespace");
        ns.metadata.labels["pod-security.kubernetes.io/warn"] = "strict";
        expect(await violations("staging", "namespace-labels", ns)).toEqual([
            'Namespace web-staging has pod-security.kubernetes.io/warn="strict", which is not a Pod Security level; staging warns at Pod Security "restricted". Fix: label it pod-security.kubernetes.io/warn=restricted.',
        ]);
    });

    it("judges by the environment in its policy config over the stack's", async () => {
        // dev's namespace (baseline enforced) previewed with policy/config/prod.json.
        const ns = manifestOf("dev", "Namespace");
        expect(await violations("dev", "namespace-labels", ns, { environment: "prod" })).toEqual([
            "Namespace web-dev is labelled environment=dev, but this stack deploys prod. Fix: label it environment=prod, or preview the dev stack instead.",
            'Namespace web-dev sets pod-security.kubernetes.io/enforce=baseline; prod enforces Pod Security at least "restricted". Fix: label it pod-security.kubernetes.io/enforce=restricted.',
        ]);
    });
});

describe("networkpolicy-namespace-selector", () => {
    const ingressPolicy = () => manifestOf("prod", "NetworkPolicy", "allow-ingress-controller");

    it("flags an empty namespaceSelector", async () => {
        const np = ingressPolicy();
        np.spec.ingress[0].from[0].namespaceSelector = {};
        expect(await violations("prod", "networkpolicy-namespace-selector", np)).toEqual([
            'NetworkPolicy web-prod/allow-ingress-controller: spec.ingress[0].from[0] has an empty namespaceSelector, which admits every namespace in the cluster, other environments included. Fix: select the namespace by name: namespaceSelector.matchLabels {"kubernetes.io/metadata.name": "<namespace>"}.',
        ]);
    });

    it("flags a namespaceSelector on a label tenants can set", async () => {
        const np = ingressPolicy();
        np.spec.ingress[0].from[0].namespaceSelector = { matchLabels: { environment: "prod" } };
        expect(await violations("prod", "networkpolicy-namespace-selector", np)).toEqual([
            'NetworkPolicy web-prod/allow-ingress-controller: spec.ingress[0].from[0] selects namespaces by "environment", a label any namespace\'s owner can set (any namespace labelled environment=prod is admitted). Fix: select the namespace by name: namespaceSelector.matchLabels {"kubernetes.io/metadata.name": "<namespace>"}; only the API server sets kubernetes.io/metadata.name.',
        ]);
    });

    it("flags the name label used with an operator that admits unnamed namespaces", async () => {
        const np = manifestOf("prod", "NetworkPolicy", "allow-dns");
        np.spec.egress[0].to[0].namespaceSelector = { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["web-dev"] }] };
        expect(await violations("prod", "networkpolicy-namespace-selector", np)).toEqual([
            "NetworkPolicy web-prod/allow-dns: spec.egress[0].to[0] selects namespaces with kubernetes.io/metadata.name NotIn, which admits namespaces nobody named. Fix: name them with matchLabels or the In operator.",
        ]);
    });

    it("accepts the name label with In, and a peer with a podSelector only (same namespace)", async () => {
        const np = ingressPolicy();
        np.spec.ingress[0].from = [
            { namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["ingress-nginx"] }] } },
            { podSelector: { matchLabels: { role: "x" } } },
        ];
        expect(await violations("prod", "networkpolicy-namespace-selector", np)).toEqual([]);
    });
});

describe("image-pinned", () => {
    it("flags latest in prod", async () => {
        const d = manifestOf("prod", "Deployment");
        app(d).image = "ghcr.io/env-progression/web:latest";
        expect(await violations("prod", "image-pinned", d)).toEqual([
            `Deployment ${appDeployment("prod")} container "app": "ghcr.io/env-progression/web:latest" is tagged latest; prod must run an exact version. Allowed: an explicit version tag and a digest. Fix: pin the image as name:tag@sha256:<digest> (this program: pulumi config set image <ref> -s prod).`,
        ]);
    });

    it("flags a tag without a digest in prod", async () => {
        const d = manifestOf("prod", "Deployment");
        app(d).image = "ghcr.io/env-progression/web:1.4.2";
        expect(await violations("prod", "image-pinned", d)).toEqual([
            `Deployment ${appDeployment("prod")} container "app": "ghcr.io/env-progression/web:1.4.2" has no digest; prod runs exactly the bytes staging verified. Allowed: name:tag@sha256:<64 hex>. Fix: pin the image as name:tag@sha256:<digest> (this program: pulumi config set image <ref> -s prod).`,
        ]);
    });

    it("flags an untagged image in staging, including in an init container", async () => {
        const d = manifestOf("staging", "Deployment");
        d.spec.template.spec.initContainers = [{ name: "migrate", image: "ghcr.io/env-progression/migrate" }];
        expect(await violations("staging", "image-pinned", d)).toEqual([
            `Deployment ${appDeployment("staging")} init container "migrate": "ghcr.io/env-progression/migrate" is untagged (which means latest); staging must run an exact version. Allowed: an explicit version tag or a digest. Fix: pin the image as name:<version> (this program: pulumi config set image <ref> -s staging).`,
        ]);
    });

    it("lets dev run latest", async () => {
        const d = manifestOf("dev", "Deployment");
        app(d).image = "ghcr.io/env-progression/web:latest";
        expect(await violations("dev", "image-pinned", d)).toEqual([]);
    });
});

describe("replicas-minimum", () => {
    it("flags one replica in prod", async () => {
        const d = manifestOf("prod", "Deployment");
        d.spec.replicas = 1;
        expect(await violations("prod", "replicas-minimum", d)).toEqual([
            `Deployment ${appDeployment("prod")} runs 1 replica; prod runs at least 3, so one node drain or crash must not take the app down. Fix: set spec.replicas to at least 3 (this program: pulumi config set replicas 3 -s prod).`,
        ]);
    });

    it("counts an unset replica count as the API server's default of 1", async () => {
        const d = manifestOf("staging", "Deployment");
        delete d.spec.replicas;
        expect(await violations("staging", "replicas-minimum", d)).toEqual([
            `Deployment ${appDeployment("staging")} runs 1 replica (spec.replicas unset defaults to 1); staging runs at least 2, so one node drain or crash must not take the app down. Fix: set spec.replicas to at least 2 (this program: pulumi config set replicas 2 -s staging).`,
        ]);
    });

    it("accepts exactly the minimum", async () => {
        const d = manifestOf("staging", "Deployment");
        d.spec.replicas = 2;
        expect(await violations("staging", "replicas-minimum", d)).toEqual([]);
    });
});

describe("resources-set", () => {
    it("flags a missing memory limit", async () => {
        const d = manifestOf("prod", "Deployment");
        delete app(d).resources.limits.memory;
        expect(await violations("prod", "resources-set", d)).toEqual([
            `Deployment ${appDeployment("prod")} container "app" sets no resources.limits.memory: without requests the scheduler overcommits the node, without limits one pod can starve its neighbours. Fix: set them (this program: cpuRequest, memoryRequest, cpuLimit, memoryLimit).`,
        ]);
    });

    it("lists every missing field at once", async () => {
        const d = manifestOf("dev", "Deployment");
        delete app(d).resources.requests;
        expect(await violations("dev", "resources-set", d)).toEqual([
            `Deployment ${appDeployment("dev")} container "app" sets no resources.requests.cpu, resources.requests.memory: without requests the scheduler overcommits the node, without limits one pod can starve its neighbours. Fix: set them (this program: cpuRequest, memoryRequest, cpuLimit, memoryLimit).`,
        ]);
    });
});

describe("restricted-security-context", () => {
    it("flags privilege escalation", async () => {
        const d = manifestOf("prod", "Deployment");
        app(d).securityContext.allowPrivilegeEscalation = true;
        expect(await violations("prod", "restricted-security-context", d)).toEqual([
            `Deployment ${appDeployment("prod")} container "app" does not meet the restricted security context: allowPrivilegeEscalation is not false. Admission rejects such pods in a restricted namespace, so the rollout never finishes. Fix: set securityContext allowPrivilegeEscalation: false (components/app.ts deploymentManifest has the full set).`,
        ]);
    });

    it("flags capabilities not dropped", async () => {
        const d = manifestOf("prod", "Deployment");
        delete app(d).securityContext.capabilities;
        expect(await violations("prod", "restricted-security-context", d)).toEqual([
            `Deployment ${appDeployment("prod")} container "app" does not meet the restricted security context: capabilities.drop lacks "ALL". Admission rejects such pods in a restricted namespace, so the rollout never finishes. Fix: set securityContext capabilities.drop: ["ALL"] (components/app.ts deploymentManifest has the full set).`,
        ]);
    });

    it("flags runAsNonRoot when neither the container nor the pod sets it", async () => {
        const d = manifestOf("staging", "Deployment");
        delete app(d).securityContext.runAsNonRoot;
        expect(await violations("staging", "restricted-security-context", d)).toEqual([]); // the pod-level setting still applies
        delete d.spec.template.spec.securityContext.runAsNonRoot;
        expect(await violations("staging", "restricted-security-context", d)).toEqual([
            `Deployment ${appDeployment("staging")} container "app" does not meet the restricted security context: runAsNonRoot is not true. Admission rejects such pods in a restricted namespace, so the rollout never finishes. Fix: set securityContext runAsNonRoot: true (components/app.ts deploymentManifest has the full set).`,
        ]);
    });

    it("flags host namespaces on the pod", async () => {
        const d = manifestOf("prod", "Deployment");
        d.spec.template.spec.hostNetwork = true;
        expect(await violations("prod", "restricted-security-context", d)).toEqual([
            `Deployment ${appDeployment("prod")} pod spec breaks Pod Security "restricted": hostNetwork is true. Fix: use hostNetwork: false.`,
        ]);
    });

    it("flags a writable root filesystem", async () => {
        const d = manifestOf("dev", "Deployment");
        app(d).securityContext.readOnlyRootFilesystem = false;
        expect(await violations("dev", "restricted-security-context", d)).toEqual([
            `Deployment ${appDeployment("dev")} container "app" does not meet the restricted security context: readOnlyRootFilesystem is not true. Admission rejects such pods in a restricted namespace, so the rollout never finishes. Fix: set securityContext readOnlyRootFilesystem: true (with an emptyDir for /tmp) (components/app.ts deploymentManifest has the full set).`,
        ]);
    });
});

describe("probes-present", () => {
    it("flags a missing readiness probe", async () => {
        const d = manifestOf("prod", "Deployment");
        delete app(d).readinessProbe;
        expect(await violations("prod", "probes-present", d)).toEqual([
            `Deployment ${appDeployment("prod")} container "app" has no readinessProbe: without readiness, traffic reaches pods that are not ready and a broken rollout looks healthy. Fix: add httpGet probes on the app's health endpoint (e.g. /healthz on the http port).`,
        ]);
    });

    it("flags both probes missing in one message", async () => {
        const d = manifestOf("dev", "Deployment");
        delete app(d).readinessProbe;
        delete app(d).livenessProbe;
        expect(await violations("dev", "probes-present", d)).toEqual([
            `Deployment ${appDeployment("dev")} container "app" has no readinessProbe and no livenessProbe: without readiness, traffic reaches pods that are not ready and a broken rollout looks healthy; without liveness, a hung process is never restarted. Fix: add httpGet probes on the app's health endpoint (e.g. /healthz on the http port).`,
        ]);
    });
});

describe("pdb-allows-drain", () => {
    it("flags maxUnavailable 0", async () => {
        const pdb = manifestOf("prod", "PodDisruptionBudget");
        pdb.spec.maxUnavailable = 0;
        expect(await violations("prod", "pdb-allows-drain", pdb)).toEqual([
            'PodDisruptionBudget web-prod/web sets maxUnavailable 0, which allows no eviction: node drains and cluster upgrades hang. Fix: allow at least one disruption, e.g. maxUnavailable: "10%" (prod\'s value in config/environments.ts).',
        ]);
    });

    it("flags maxUnavailable 0%", async () => {
        const pdb = manifestOf("staging", "PodDisruptionBudget");
        pdb.spec.maxUnavailable = "0%";
        expect(await violations("staging", "pdb-allows-drain", pdb)).toEqual([
            'PodDisruptionBudget web-staging/web sets maxUnavailable "0%", which allows no eviction: node drains and cluster upgrades hang. Fix: allow at least one disruption, e.g. maxUnavailable: 1 (staging\'s value in config/environments.ts).',
        ]);
    });

    it("flags minAvailable 100%", async () => {
        const pdb = manifestOf("prod", "PodDisruptionBudget");
        delete pdb.spec.maxUnavailable;
        pdb.spec.minAvailable = "100%";
        expect(await violations("prod", "pdb-allows-drain", pdb)).toEqual([
            'PodDisruptionBudget web-prod/web sets minAvailable "100%", which allows no eviction: node drains and cluster upgrades hang. Fix: allow at least one disruption, e.g. maxUnavailable: "10%" (prod\'s value in config/environments.ts).',
        ]);
    });
});

describe("service-not-loadbalancer", () => {
    const lb = () => {
        const svc = manifestOf("prod", "Service", "web");
        svc.spec.type = "LoadBalancer";
        return svc;
    };

    it("flags a LoadBalancer", async () => {
        expect(await violations("prod", "service-not-loadbalancer", lb())).toEqual([
            'Service web-prod/web is type LoadBalancer, which exposes it on an external load balancer outside the ingress controller. Fix: use ClusterIP behind the ingress controller (this program: pulumi config set serviceType ClusterIP), or allow it with policy config {"service-not-loadbalancer": {"allowLoadBalancer": true}}.',
        ]);
    });

    it("allows it when the policy config says so", async () => {
        expect(await violations("prod", "service-not-loadbalancer", lb(), { allowLoadBalancer: true })).toEqual([]);
    });
});

describe("no-plain-secrets", () => {
    it("flags a literal value under a secret-looking name", async () => {
        const d = manifestOf("prod", "Deployment");
        app(d).env.push({ name: "API_TOKEN", value: "abc123" });
        expect(await violations("prod", "no-plain-secrets", d)).toEqual([
            `Deployment ${appDeployment("prod")} container "app" env API_TOKEN holds a literal value under a secret-looking name; a plain env value is stored readable in the object, in Pulumi state and in kubectl describe. Fix: move it into a Secret and reference it with valueFrom.secretKeyRef (this program: pulumi config set --secret API_TOKEN <value>, and list API_TOKEN in secretEnv); if it is no secret, add it to policy config {"no-plain-secrets": {"allowedNames": ["API_TOKEN"]}}.`,
        ]);
    });

    it("flags a credential by its shape whatever the name, without printing it", async () => {
        const d = manifestOf("prod", "Deployment");
        app(d).env.push({ name: "DATABASE_URL", value: "postgres://app:hunter2@db:5432/app" });
        const found = await violations("prod", "no-plain-secrets", d);
        expect(found).toEqual([
            `Deployment ${appDeployment("prod")} container "app" env DATABASE_URL holds what looks like a URL with an embedded password; a plain env value is stored readable in the object, in Pulumi state and in kubectl describe. Fix: move it into a Secret and reference it with valueFrom.secretKeyRef (this program: pulumi config set --secret DATABASE_URL <value>, and list DATABASE_URL in secretEnv); if it is no secret, add it to policy config {"no-plain-secrets": {"allowedNames": ["DATABASE_URL"]}}.`,
        ]);
        expect(found.join("")).not.toContain("hunter2");
    });

    it("accepts a secretKeyRef and an allowed name", async () => {
        const d = manifestOf("prod", "Deployment");
        app(d).env.push(
            { name: "API_TOKEN", valueFrom: { secretKeyRef: { name: "web-secrets", key: "API_TOKEN" } } },
            { name: "TOKEN_URL", value: "https://auth/token" },
        );
        expect(await violations("prod", "no-plain-secrets", d, { allowedNames: ["TOKEN_URL"] })).toEqual([]);
    });

    it("flags a ConfigMap key that pods load as env vars", async () => {
        const cm = manifestOf("staging", "ConfigMap");
        cm.data.DB_PASSWORD = "s3cret";
        expect(await violations("staging", "no-plain-secrets", cm)).toEqual([
            // The revision's ConfigMap: `<Deployment>-config`.
            `ConfigMap web-staging/${appDeploymentName("staging")}-config key DB_PASSWORD holds a literal value under a secret-looking name; pods load this ConfigMap as plain env vars (envFrom), readable by anyone who can read the namespace's ConfigMaps. Fix: move it into a Secret and reference it with valueFrom.secretKeyRef (this program: pulumi config set --secret DB_PASSWORD <value>, and list DB_PASSWORD in secretEnv); if it is no secret, add it to policy config {"no-plain-secrets": {"allowedNames": ["DB_PASSWORD"]}}.`,
        ]);
    });
});

describe("fixture types", () => {
    it("match the tokens @pulumi/kubernetes registers", () => {
        expect(pulumiType(manifestOf("prod", "Deployment"))).toBe("kubernetes:apps/v1:Deployment");
        expect(pulumiType(manifestOf("prod", "Namespace"))).toBe("kubernetes:core/v1:Namespace");
        expect(pulumiType(manifestOf("prod", "NetworkPolicy", "default-deny"))).toBe("kubernetes:networking.k8s.io/v1:NetworkPolicy");
        expect(pulumiType(manifestOf("prod", "PodDisruptionBudget"))).toBe("kubernetes:policy/v1:PodDisruptionBudget");
    });
});
