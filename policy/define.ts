// The two shapes every policy in the pack takes. A check is a pure function over plain manifests
// returning messages; these wrappers are the only code that touches @pulumi/policy's arguments:
// they pick the resources a check applies to, copy props into plain data (unknowns marked, see
// unknown.ts), resolve the environment and config, and report each message.
import type {
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import type { EnvironmentName } from "../config/environments";
import { judgedEnvironment, type PackContext } from "./environment";
import { asManifest, kindOf, type Manifest } from "./manifest";
import { plain } from "./unknown";

/** Thrown by a check that cannot judge what it was given; the wrapper reports the policy not applicable. */
export class NotApplicable extends Error {
    override name = "NotApplicable";
}

export interface PolicyText {
    /** The policy's id in the pack and in policy config files. */
    readonly name: string;
    /** What the policy requires and why it matters; shown with every violation. */
    readonly description: string;
    /** Config properties beyond enforcementLevel. @default - none */
    readonly configSchema?: Readonly<Record<string, PolicyConfigJSONSchema>>;
    /** A level of its own, kept even where the environment's level applies to all others (packConfig pins it). @default - the environment's */
    readonly enforcementLevel?: EnforcementLevel;
}

export interface ResourceCheck<C> extends PolicyText {
    /** Kubernetes kinds the policy applies to; every other resource is not applicable. */
    readonly kinds: readonly string[];
    /** The violations of one manifest, each saying what is wrong and how to fix it. */
    readonly check: (manifest: Manifest, environment: EnvironmentName, config: Partial<C>) => string[];
}

/** A resource policy running `spec.check` on each resource of `spec.kinds`. */
export function resourcePolicy<C extends object>(ctx: PackContext, spec: ResourceCheck<C>): ResourceValidationPolicy {
    return {
        name: spec.name,
        description: spec.description,
        ...(spec.enforcementLevel ? { enforcementLevel: spec.enforcementLevel } : {}),
        ...(spec.configSchema ? { configSchema: { properties: { ...spec.configSchema } } } : {}),
        validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
            const kind = kindOf(args.type);
            if (kind === undefined || !spec.kinds.includes(kind)) {
                args.notApplicable(`applies to Kubernetes ${spec.kinds.join(", ")} only`);
            }
            const manifest = asManifest(args.type, plain(args.props)) as Manifest;
            const config = args.getConfig<Partial<C>>();
            for (const message of spec.check(manifest, judgedEnvironment(ctx, config), config)) report(message);
        },
    };
}

/** One resource of the stack, as plain data. */
export interface StackResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    /** Set for Kubernetes resources: props with `kind`. */
    readonly manifest: Manifest | undefined;
    /** The props as plain data (unknowns marked), for resources that are not Kubernetes objects. */
    readonly props: unknown;
    readonly parent: string | undefined;
    /** URNs this resource depends on. */
    readonly dependencies: readonly string[];
}

export interface StackViolation {
    readonly message: string;
    /** The resource at fault; absent when the stack as a whole is. */
    readonly urn?: string;
}

export interface StackCheck<C> extends PolicyText {
    readonly check: (resources: readonly StackResource[], environment: EnvironmentName, config: Partial<C>, ctx: PackContext) => StackViolation[];
}

/** Plain stack resources from the engine's. */
export function toStackResources(resources: readonly PolicyResource[]): StackResource[] {
    return resources.map((r) => {
        const props = plain(r.props);
        return {
            type: r.type,
            name: r.name,
            urn: r.urn,
            manifest: asManifest(r.type, props),
            props,
            parent: r.parent?.urn ?? r.opts.parent,
            dependencies: r.dependencies.map((d) => d.urn),
        };
    });
}

/** A stack policy running `spec.check` over every resource of the stack once. */
export function stackPolicy<C extends object>(ctx: PackContext, spec: StackCheck<C>): StackValidationPolicy {
    return {
        name: spec.name,
        description: spec.description,
        ...(spec.enforcementLevel ? { enforcementLevel: spec.enforcementLevel } : {}),
        ...(spec.configSchema ? { configSchema: { properties: { ...spec.configSchema } } } : {}),
        validateStack: (args: StackValidationArgs, report: ReportViolation) => {
            const config = args.getConfig<Partial<C>>();
            let violations: StackViolation[];
            try {
                violations = spec.check(toStackResources(args.resources), judgedEnvironment(ctx, config), config, ctx);
            } catch (err) {
                if (err instanceof NotApplicable) args.notApplicable(err.message);
                throw err;
            }
            for (const v of violations) report(v.message, v.urn);
        },
    };
}
