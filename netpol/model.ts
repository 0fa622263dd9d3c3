// Cluster models for the isolation check: the default one (three environments, DNS, the ingress
// controller, an attacker) and one derived from plain manifests, as `kubectl apply -f DIR` would
// take them. The attacker copies every label of the environment it impersonates, on its namespace
// and its pod, except `kubernetes.io/metadata.name`, which only the API server can set: whatever
// a policy admits by a tenant-settable label, the attacker gets too.
import { APP_COMPONENT_LABEL, APP_NAME_LABEL, ENVIRONMENT_LABEL, NAMESPACE_NAME_LABEL } from "../kube/labels";
import type { ContainerPort, EnvironmentRole, IsolationModel, Labels, NamespaceModel, PodModel, Probe, Protocol } from "./types";

export const DEFAULT_INGRESS_NAMESPACE = "ingress-nginx";
export const DEFAULT_APP_PORT = 8080;
const ENVIRONMENT_ORDER = ["dev", "staging", "prod"];

export const DNS_PROBES: readonly Probe[] = [
    { name: "dns-udp", port: 53, protocol: "UDP" },
    { name: "dns-tcp", port: 53, protocol: "TCP" },
];

const KUBE_DNS: Omit<Workload, "apps"> = {
    name: "kube-dns",
    labels: { "k8s-app": "kube-dns" },
    ports: [
        { name: "dns", containerPort: 53, protocol: "UDP" },
        { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
        { name: "metrics", containerPort: 9153, protocol: "TCP" },
    ],
};

const INGRESS_CONTROLLER: Omit<Workload, "apps"> = {
    name: "controller",
    labels: { [APP_NAME_LABEL]: "ingress-nginx", [APP_COMPONENT_LABEL]: "controller" },
    ports: [
        { name: "http", containerPort: 80, protocol: "TCP" },
        { name: "https", containerPort: 443, protocol: "TCP" },
    ],
};

interface Workload {
    readonly name: string;
    readonly labels: Labels;
    readonly ports: readonly ContainerPort[];
    /** Ports the ingress controller must reach (from the Services selecting it). */
    readonly apps: readonly { port: number; protocol: Protocol }[];
}

interface NamespaceSpec {
    readonly name: string;
    readonly labels: Labels;
    readonly workloads: readonly Workload[];
}

interface ModelSpec {
    readonly environments: readonly (NamespaceSpec & { environment: string })[];
    /** Namespaces that are neither environments nor the special ones below. */
    readonly others: readonly NamespaceSpec[];
    readonly kubeSystem: NamespaceSpec;
    readonly ingress: NamespaceSpec;
}

const withoutName = (labels: Labels): Labels => Object.fromEntries(Object.entries(labels).filter(([k]) => k !== NAMESPACE_NAME_LABEL));

/** The probe for an app port: "app" when it is the only one, else "app-<port>[-<proto>]". */
function appProbeName(port: number, protocol: Protocol, distinct: number): string {
    if (distinct === 1) return "app";
    return protocol === "TCP" ? `app-${port}` : `app-${port}-${protocol.toLowerCase()}`;
}

function buildModel(spec: ModelSpec): IsolationModel {
    const namespaces: NamespaceModel[] = [];
    const pods: PodModel[] = [];
    const used = new Set<string>([...spec.environments, ...spec.others, spec.kubeSystem, spec.ingress].map((n) => n.name));
    let podIndex = 266;
    const place = (ns: NamespaceSpec): string[] => {
        namespaces.push({ name: ns.name, labels: withoutName(ns.labels) });
        return ns.workloads.map((w) => {
            // Synthetic, distinct, and inside 10.244.0.0/16 like a kind/kwok pod network (room for 65k pods).
            const n = podIndex++;
            pods.push({ namespace: ns.name, name: w.name, labels: w.labels, ip: `10.244.${(n >> 8) & 255}.${n & 255}`, ports: w.ports });
            return `${ns.name}/${w.name}`;
        });
    };

    const appPorts = new Map<string, { port: number; protocol: Protocol }>();
    for (const env of spec.environments) for (const w of env.workloads) for (const a of w.apps) appPorts.set(`${a.port}/${a.protocol}`, a);
    const probeFor = new Map<string, Probe>();
    for (const [key, a] of appPorts) probeFor.set(key, { name: appProbeName(a.port, a.protocol, appPorts.size), ...a });

    const environments: EnvironmentRole[] = spec.environments.map((env) => {
        const ids = place(env);
        return {
            environment: env.environment,
            namespace: env.name,
            pods: ids,
            apps: env.workloads.flatMap((w, i) => w.apps.map((a) => ({ pod: ids[i] as string, probe: probeFor.get(`${a.port}/${a.protocol}`) as Probe }))),
        };
    });
    const dns = place(spec.kubeSystem).filter((_, i) => spec.kubeSystem.workloads[i]?.labels["k8s-app"] === "kube-dns");
    const ingressPods = place(spec.ingress);
    for (const other of spec.others) place(other);

    // The attacker impersonates prod (or the last environment in promotion order).
    const target = [...spec.environments].sort((a, b) => ENVIRONMENT_ORDER.indexOf(a.environment) - ENVIRONMENT_ORDER.indexOf(b.environment)).at(-1);
    let attacker: IsolationModel["attacker"];
    if (target) {
        let name = "attacker";
        for (let i = 2; used.has(name); i++) name = `attacker-${i}`;
        const workloads = target.workloads.length > 0 ? target.workloads : [{ name: "app", labels: {}, ports: [], apps: [] }];
        const ids = place({
            name,
            labels: { ...withoutName(target.labels), [ENVIRONMENT_LABEL]: target.environment },
            // Same pod labels and ports as the impersonated pods; no app role of its own.
            workloads: workloads.map((w) => ({ ...w, apps: [] })),
        });
        attacker = { namespace: name, pods: ids, impersonates: target.name };
    }
    return {
        namespaces,
        pods,
        externals: [],
        probes: [...probeFor.values(), ...DNS_PROBES],
        environments,
        dns,
        dnsProbes: DNS_PROBES,
        ingressController: { namespace: spec.ingress.name, pods: ingressPods },
        ...(attacker ? { attacker } : {}),
    };
}

export interface DefaultModelOptions {
    /** Environment names; each gets a namespace of the same name labelled `environment=<name>`. @default ["dev", "staging", "prod"] */
    readonly environments?: readonly string[];
    /** Labels of each environment's app pod (the environment label is added). @default {"app.kubernetes.io/name": "app"} */
    readonly appLabels?: Labels;
    /** @default 8080 */
    readonly appPort?: number;
    /** @default "ingress-nginx" */
    readonly ingressNamespace?: string;
}

/**
 * The default model: dev, staging and prod namespaces (labelled `environment=<env>`) each with an
 * app pod serving TCP `appPort` as port `http`; kube-system with kube-dns; the ingress controller;
 * and an attacker namespace labelled `environment=prod` whose pod copies prod's app labels.
 * Probes: the app port, DNS on UDP 53 and TCP 53.
 */
export function defaultIsolationModel(opts: DefaultModelOptions = {}): IsolationModel {
    const appPort = opts.appPort ?? DEFAULT_APP_PORT;
    const appLabels = opts.appLabels ?? { [APP_NAME_LABEL]: "app" };
    return buildModel({
        environments: (opts.environments ?? ENVIRONMENT_ORDER).map((env) => ({
            name: env,
            environment: env,
            labels: { [ENVIRONMENT_LABEL]: env },
            workloads: [
                {
                    name: "app",
                    labels: { ...appLabels, [ENVIRONMENT_LABEL]: env },
                    ports: [{ name: "http", containerPort: appPort, protocol: "TCP" }],
                    apps: [{ port: appPort, protocol: "TCP" }],
                },
            ],
        })),
        others: [],
        kubeSystem: { name: "kube-system", labels: {}, workloads: [{ ...KUBE_DNS, apps: [] }] },
        ingress: { name: opts.ingressNamespace ?? DEFAULT_INGRESS_NAMESPACE, labels: {}, workloads: [{ ...INGRESS_CONTROLLER, apps: [] }] },
    });
}

// ---------------------------------------------------------------------------------------------
// From manifests

export class ManifestError extends Error {
    override name = "ManifestError";
    constructor(readonly problems: readonly string[]) {
        super(problems.join("\n"));
    }
}

export interface ManifestModelOptions {
    /** @default "ingress-nginx" */
    readonly ingressNamespace?: string;
}

export interface ManifestModel {
    readonly model: IsolationModel;
    /** The NetworkPolicy objects found, unchanged. */
    readonly policies: readonly unknown[];
    readonly warnings: readonly string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((acc, k) => (isObj(acc) ? acc[k] : undefined), o);
const labelsOf = (v: unknown): Labels => (isObj(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string")) : {});
const WORKLOAD_TEMPLATE: Record<string, string[]> = {
    Deployment: ["spec", "template"],
    StatefulSet: ["spec", "template"],
    DaemonSet: ["spec", "template"],
    ReplicaSet: ["spec", "template"],
    Job: ["spec", "template"],
    CronJob: ["spec", "jobTemplate", "spec", "template"],
    Pod: [],
};

/** Flattens `kind: List` (and `*List`) objects, as kubectl does. */
export function flattenObjects(objects: readonly unknown[]): Obj[] {
    return objects.flatMap((o): Obj[] => {
        if (!isObj(o)) return [];
        if (typeof o["kind"] === "string" && o["kind"].endsWith("List") && Array.isArray(o["items"])) {
            const itemKind = o["kind"] === "List" ? undefined : o["kind"].slice(0, -4);
            return flattenObjects((o["items"] as unknown[]).map((i) => (isObj(i) && itemKind && i["kind"] === undefined ? { ...i, kind: itemKind } : i)));
        }
        return [o];
    });
}

function containerPorts(template: unknown): ContainerPort[] {
    const containers = get(template, "spec", "containers");
    if (!Array.isArray(containers)) return [];
    return containers.flatMap((c: unknown) => {
        const ports = get(c, "ports");
        return Array.isArray(ports)
            ? ports.flatMap((p: unknown): ContainerPort[] => {
                  const n = get(p, "containerPort");
                  if (typeof n !== "number") return [];
                  const name = get(p, "name");
                  const protocol = get(p, "protocol");
                  return [
                      {
                          containerPort: n,
                          ...(typeof name === "string" ? { name } : {}),
                          protocol: protocol === "UDP" || protocol === "SCTP" ? protocol : "TCP",
                      },
                  ];
              })
            : [];
    });
}

/**
 * Builds the isolation model from plain manifests: Namespaces with an `environment` label are the
 * environments; Deployments (and other workloads) give pods, their labels and container ports;
 * Services selecting them give the app ports the ingress controller must reach. kube-system with
 * kube-dns, the ingress controller's namespace and the attacker are added when absent.
 *
 * One function: one walk over the objects builds the namespaces, workloads and app ports, and the
 * warnings about what it skipped, which refer to each other.
 */
export function isolationModelFromManifests(objects: readonly unknown[], opts: ManifestModelOptions = {}): ManifestModel {
    const all = flattenObjects(objects);
    const warnings: string[] = [];
    const nsOf = (o: Obj): string => {
        const ns = get(o, "metadata", "namespace");
        return typeof ns === "string" && ns !== "" ? ns : "default";
    };
    const nameOf = (o: Obj): string => {
        const name = get(o, "metadata", "name");
        return typeof name === "string" ? name : "";
    };
    const kindOf = (o: Obj): string => (typeof o["kind"] === "string" ? o["kind"] : "?");

    const nsLabels = new Map<string, Labels>();
    for (const o of all) if (o["kind"] === "Namespace") nsLabels.set(nameOf(o), labelsOf(get(o, "metadata", "labels")));

    const environments = [...nsLabels].filter(([, l]) => typeof l[ENVIRONMENT_LABEL] === "string");
    if (environments.length === 0) {
        throw new ManifestError([
            `no Namespace with an '${ENVIRONMENT_LABEL}' label was found, so there are no environments to check. ` +
                `Fix: include the environments' Namespace objects (kind: Namespace, metadata.labels.${ENVIRONMENT_LABEL}: dev|staging|prod)`,
        ]);
    }
    const byEnv = new Map<string, string[]>();
    for (const [ns, l] of environments) {
        const env = l[ENVIRONMENT_LABEL] as string;
        const names = byEnv.get(env);
        if (names) names.push(ns);
        else byEnv.set(env, [ns]);
    }
    for (const [env, names] of byEnv) {
        if (names.length > 1) {
            const shown = names.length > 10 ? `${names.slice(0, 10).join(", ")} and ${names.length - 10} more` : names.join(", ");
            warnings.push(`namespaces ${shown} all claim ${ENVIRONMENT_LABEL}=${env}; they are judged as one environment`);
        }
    }

    // Indexed once by namespace: a thousand namespaces must not mean a thousand scans of everything.
    const servicesByNs = new Map<string, Obj[]>();
    const workloadsByNs = new Map<string, Obj[]>();
    const push = (map: Map<string, Obj[]>, key: string, o: Obj) => {
        const list = map.get(key);
        if (list) list.push(o);
        else map.set(key, [o]);
    };
    for (const o of all) {
        if (o["kind"] === "Service") push(servicesByNs, nsOf(o), o);
        else if (typeof o["kind"] === "string" && Object.hasOwn(WORKLOAD_TEMPLATE, o["kind"])) push(workloadsByNs, nsOf(o), o);
    }
    const workloadsIn = (ns: string): Workload[] =>
        (workloadsByNs.get(ns) ?? []).map((o) => {
            const template =
                (WORKLOAD_TEMPLATE[o["kind"] as string] as string[]).length === 0 ? o : get(o, ...(WORKLOAD_TEMPLATE[o["kind"] as string] as string[]));
            const labels = labelsOf(get(template, "metadata", "labels"));
            const ports = containerPorts(template);
            const apps: { port: number; protocol: Protocol }[] = [];
            const namespaceServices = servicesByNs.get(ns) ?? [];
            for (const svc of namespaceServices) {
                const selector = labelsOf(get(svc, "spec", "selector"));
                if (Object.keys(selector).length === 0 || !Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
                const svcPorts = get(svc, "spec", "ports");
                for (const sp of Array.isArray(svcPorts) ? svcPorts : []) {
                    const target = get(sp, "targetPort") ?? get(sp, "port");
                    const protocol = (get(sp, "protocol") ?? "TCP") as Protocol;
                    const port =
                        typeof target === "number" ? target : ports.find((p) => p.name === target && (p.protocol ?? "TCP") === protocol)?.containerPort;
                    if (port === undefined) {
                        warnings.push(
                            `Service ${ns}/${nameOf(svc)}: targetPort ${JSON.stringify(target)} names no container port of ${kindOf(o)} ${ns}/${nameOf(o)}; ignored`,
                        );
                    } else if (!apps.some((a) => a.port === port && a.protocol === protocol)) {
                        apps.push({ port, protocol });
                    }
                }
            }
            // A workload no Service selects, beside Services that select others, is internal
            // (a worker, a job): nothing outside should reach it. Only when a namespace has no
            // Service at all is its first TCP port taken as the app port.
            if (apps.length === 0 && namespaceServices.length === 0 && nsLabels.get(ns)?.[ENVIRONMENT_LABEL] !== undefined) {
                const first = ports.find((p) => (p.protocol ?? "TCP") === "TCP");
                if (first) {
                    apps.push({ port: first.containerPort, protocol: "TCP" });
                    warnings.push(
                        `${kindOf(o)} ${ns}/${nameOf(o)}: no Service selects it; its first TCP container port ${first.containerPort} is taken as the app port`,
                    );
                } else {
                    warnings.push(
                        `${kindOf(o)} ${ns}/${nameOf(o)}: no Service selects it and it declares no TCP container port; the ingress controller's access to it is not checked`,
                    );
                }
            }
            return { name: nameOf(o), labels, ports, apps };
        });

    const ingressName = opts.ingressNamespace ?? DEFAULT_INGRESS_NAMESPACE;
    const policies = all.filter((o) => o["kind"] === "NetworkPolicy");
    // Namespaces used by objects but never declared: kubectl would refuse to apply into them, but
    // the policies still say something; model them with only the name label.
    for (const o of [...policies, ...[...workloadsByNs.values()].flat()]) {
        const ns = nsOf(o);
        if (!nsLabels.has(ns) && ns !== "kube-system" && ns !== ingressName) {
            warnings.push(`${kindOf(o)} ${ns}/${nameOf(o)}: its namespace ${ns} is not among the manifests; modelled with no labels but its name`);
            nsLabels.set(ns, {});
        }
    }

    const envSpecs = environments
        .sort(([, a], [, b]) => ENVIRONMENT_ORDER.indexOf(a[ENVIRONMENT_LABEL] as string) - ENVIRONMENT_ORDER.indexOf(b[ENVIRONMENT_LABEL] as string))
        .map(([ns, labels]) => {
            let workloads = workloadsIn(ns);
            if (workloads.length === 0) {
                warnings.push(`namespace ${ns}: no Deployment or other workload found; judged with a placeholder pod without labels`);
                workloads = [{ name: "pod", labels: {}, ports: [], apps: [] }];
            }
            return { name: ns, environment: labels[ENVIRONMENT_LABEL] as string, labels, workloads };
        });
    const special = (name: string, fallback: Omit<Workload, "apps">): NamespaceSpec => {
        const found = workloadsIn(name);
        return { name, labels: nsLabels.get(name) ?? {}, workloads: found.length > 0 ? found : [{ ...fallback, apps: [] }] };
    };
    const kubeSystem = special("kube-system", KUBE_DNS);
    // Manifests that ship something else in kube-system still get the cluster's DNS.
    const kubeSystemSpec: NamespaceSpec = kubeSystem.workloads.some((w) => w.labels["k8s-app"] === "kube-dns")
        ? kubeSystem
        : { ...kubeSystem, workloads: [...kubeSystem.workloads, { ...KUBE_DNS, apps: [] }] };
    const others = [...nsLabels]
        .filter(([ns, l]) => l[ENVIRONMENT_LABEL] === undefined && ns !== "kube-system" && ns !== ingressName)
        .map(([ns, labels]) => ({ name: ns, labels, workloads: workloadsIn(ns).map((w) => ({ ...w, apps: [] })) }));
    const model = buildModel({ environments: envSpecs, others, kubeSystem: kubeSystemSpec, ingress: special(ingressName, INGRESS_CONTROLLER) });
    return { model, policies, warnings };
}
