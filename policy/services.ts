// service-not-loadbalancer: environments are reached through the ingress controller, which the
// isolation policies admit by name; a LoadBalancer Service opens a second door around it.
import type { ResourceCheck } from "./define";
import { get, type Manifest, subject } from "./manifest";

export interface ServiceConfig {
    /** Allow type LoadBalancer (e.g. for a TCP service no ingress can carry). @default false */
    readonly allowLoadBalancer: boolean;
}

export function serviceTypeProblems(svc: Manifest, config: Partial<ServiceConfig>): string[] {
    if (get(svc, "spec", "type") !== "LoadBalancer" || config.allowLoadBalancer === true) return [];
    return [
        `${subject(svc)} is type LoadBalancer, which exposes it on an external load balancer outside the ingress controller. ` +
            `Fix: use ClusterIP behind the ingress controller (this program: pulumi config set serviceType ClusterIP), ` +
            `or allow it with policy config {"service-not-loadbalancer": {"allowLoadBalancer": true}}.`,
    ];
}

export const serviceNotLoadBalancer: ResourceCheck<ServiceConfig> = {
    name: "service-not-loadbalancer",
    description:
        "Services are not type LoadBalancer unless allowed in policy config: a load balancer gives the app an address outside the ingress controller, " +
        "reachable from anywhere its cloud allows.",
    configSchema: { allowLoadBalancer: { type: "boolean", default: false, description: "Allow Services of type LoadBalancer." } },
    kinds: ["Service"],
    check: (m, _environment, config) => serviceTypeProblems(m, config),
};
