// The Kubernetes resources the environment registers, as the kubernetes provider receives them.
// @pulumi/kubernetes's classes are thin: a type token, apiVersion and kind added to the inputs,
// the package's version as the plugin to use, and (for a Secret) its data marked secret. Its
// index loads every API group's classes and its YAML and Helm support, and the SDK's index with
// them: about 0.15 s of every `pulumi up`. The builders render whole objects anyway, so one
// generic class registers them. The package stays a dependency: its version names the provider
// plugin and the language host finds the plugin through it.
// tests/unit/kubernetes-resources.test.ts registers each kind through both and compares.
import { version as providerVersion } from "@pulumi/kubernetes/package.json";
import { CustomResource, type CustomResourceOptions, type Input, type Output, ProviderResource, type ResourceOptions, secret } from "./pulumi";

/** Each kind the environment registers, and its API version. */
const API_VERSIONS = {
    Namespace: "v1",
    ConfigMap: "v1",
    Secret: "v1",
    Service: "v1",
    Deployment: "apps/v1",
    NetworkPolicy: "networking.k8s.io/v1",
    PodDisruptionBudget: "policy/v1",
} as const;

export type Kind = keyof typeof API_VERSIONS;

/** The Pulumi type token of a kind: the core group is spelled `core`. */
export function kubernetesType(kind: Kind): string {
    const apiVersion: string = API_VERSIONS[kind];
    return `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${kind}`;
}

/** The object's fields other than apiVersion and kind (which the kind sets), as Inputs. */
export type ObjectArgs = Readonly<Record<string, Input<unknown>>>;

/** Fields the API server fills in; registered as outputs so the engine reads them back. */
const SERVER_FIELDS = ["status"] as const;

/** Fields of a Secret held secret in state and in outputs, whether or not the input was. */
const SECRET_FIELDS = ["data", "stringData"] as const;

/** The plugin version every resource of the package is registered with. */
const PLUGIN: ResourceOptions = { version: providerVersion };

/** The object metadata the program reads back. */
export interface ResourceMetadata {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
}

/** One Kubernetes object of a kind the environment registers, created or updated by server-side apply. */
export class KubernetesResource extends CustomResource {
    declare public readonly metadata: Output<ResourceMetadata>;

    constructor(kind: Kind, name: string, args: ObjectArgs, opts?: CustomResourceOptions) {
        const inputs: Record<string, Input<unknown>> = { ...args, apiVersion: API_VERSIONS[kind], kind };
        for (const field of SERVER_FIELDS) if (!(field in inputs)) inputs[field] = undefined;
        let options: CustomResourceOptions = { ...PLUGIN, ...opts };
        if (kind === "Secret") {
            for (const field of SECRET_FIELDS) if (inputs[field] !== undefined) inputs[field] = secret(inputs[field]);
            options = { ...options, additionalSecretOutputs: [...(options.additionalSecretOutputs ?? []), ...SECRET_FIELDS] };
        }
        super(kubernetesType(kind), name, inputs, options);
    }
}

/** The provider's settings the environment sets (the rest keep the provider's defaults). */
export interface KubernetesProviderArgs {
    /** The kubeconfig's text. */
    readonly kubeconfig: Input<string>;
    /** The context to use, and only that one. */
    readonly context: Input<string>;
}

/** An explicit kubernetes provider: every resource of the environment names it. */
export class KubernetesProvider extends ProviderResource {
    constructor(name: string, args: KubernetesProviderArgs, opts?: ResourceOptions) {
        super("kubernetes", name, { kubeconfig: args.kubeconfig, context: args.context }, { ...PLUGIN, ...opts });
    }
}

