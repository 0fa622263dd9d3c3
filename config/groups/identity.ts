// Identity: which environment this stack deploys, and the names it deploys under. Every other
// group's rules depend on it, so it is validated first and handed to them.
import { ENVIRONMENTS, type EnvironmentName, isEnvironmentName } from "../environments";
import { type ConfigReader, PROJECT, show } from "../reader";

export interface Identity {
    readonly stack: string;
    readonly environment: EnvironmentName;
    /**
     * False when `environment` is missing or invalid. `environment` is then the stack's likely
     * one (its name, or the nearest spelling), so the other groups' rules and fixes still fit.
     */
    readonly environmentKnown: boolean;
    readonly appName: string;
    readonly namespace: string;
}

const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** `Prod` -> prod, `prd` -> prod, `stg` -> staging; undefined when nothing is close. */
export function nearestEnvironment(text: string): EnvironmentName | undefined {
    const t = text.toLowerCase();
    return ENVIRONMENTS.find((e) => e === t || (t.length > 1 && e.startsWith(t.slice(0, 2))));
}

/** Keys: environment, allowStackMismatch, appName, namespace. */
export function validateIdentity(read: ConfigReader): Identity {
    const { stack } = read;
    const guess = isEnvironmentName(stack) ? stack : nearestEnvironment(stack);
    const envRaw = read.required("environment", ENVIRONMENTS.join(" | "), guess ?? "dev");
    let environment: EnvironmentName | undefined;
    if (envRaw !== undefined) {
        if (isEnvironmentName(envRaw)) {
            environment = envRaw;
        } else {
            read.problem(
                `${PROJECT}:environment: ${show(envRaw)} is not an environment. Allowed: ${ENVIRONMENTS.join(", ")} (lower case). ` +
                    `Fix: ${read.fix("environment", nearestEnvironment(envRaw) ?? guess ?? "dev")}`,
            );
        }
    }
    const allowMismatch = read.bool("allowStackMismatch", false);
    if (environment !== undefined && environment !== stack && !allowMismatch) {
        read.problem(
            `${PROJECT}:environment: ${show(environment)} does not match the stack name ${show(stack)}. A stack deploys the environment it is named after. ` +
                `Fix: select the stack named ${show(environment)}, or if this stack is deliberately named otherwise (e.g. a preview stack), ${read.fix("allowStackMismatch", "true")}`,
        );
    }
    // Unknown, the strictest environment is assumed: no rule or fix then asks for less than the
    // stack may turn out to need.
    const assumed: EnvironmentName = environment ?? (envRaw !== undefined ? nearestEnvironment(envRaw) : undefined) ?? guess ?? "prod";

    const appName = read.string("appName", "web");
    if (!RFC1123_LABEL.test(appName) || appName.length > 40) {
        read.problem(
            `${PROJECT}:appName: ${show(appName)} is not allowed. Allowed: lower-case letters, digits and '-', at most 40 characters, starting and ending alphanumeric. Fix: ${read.fix("appName", "web")}`,
        );
    }
    const fallbackNamespace = `${appName}-${assumed}`;
    const namespace = read.string("namespace", fallbackNamespace);
    if (!RFC1123_LABEL.test(namespace) || namespace.length > 63) {
        read.problem(
            `${PROJECT}:namespace: ${show(namespace)} is not a valid namespace name. Allowed: an RFC 1123 label (lower-case letters, digits and '-', at most 63 characters, starting and ending alphanumeric). ` +
                `Fix: ${read.fix("namespace", fallbackNamespace)}`,
        );
    } else if (SYSTEM_NAMESPACES.includes(namespace)) {
        read.problem(`${PROJECT}:namespace: ${show(namespace)} is a system namespace; an environment needs a namespace of its own. Fix: ${read.fix("namespace", fallbackNamespace)}`);
    }
    return { stack, environment: assumed, environmentKnown: environment !== undefined, appName, namespace };
}
