// Plain environment variables and feature flags: both land in the app's ConfigMap, so their
// names must be valid, must not hide a secret, and must not collide once written there.
import { type ConfigReader, PROJECT, show } from "../reader";

export interface EnvFlagsConfig {
    /** Plain environment variables, stored in the app's ConfigMap. */
    readonly env: Readonly<Record<string, string>>;
    /** Feature flags, stored in the ConfigMap as FLAG_<NAME>=true|false. */
    readonly featureFlags: Readonly<Record<string, boolean>>;
}

/** A name that says it holds a secret; config validation and the policy pack share it. */
export const SECRET_NAME = /(password|passwd|secret|token|api_?key|private_?key|credential|access_?key)/i;

export const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FLAG_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** The ConfigMap key of a feature flag: `newCheckout` and `new_checkout` are both FLAG_NEW_CHECKOUT. */
export function flagEnvName(flag: string): string {
    return `FLAG_${flag.replace(/[a-z](?=[A-Z])/g, "$&_").toUpperCase()}`;
}

/** Keys: env, featureFlags. */
export function validateEnvFlags(read: ConfigReader): EnvFlagsConfig {
    const { stack } = read;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(read.map("env"))) {
        if (!ENV_VAR_NAME.test(k)) {
            read.problem(
                `${PROJECT}:env.${k}: ${show(k)} is not an environment variable name. Allowed: letters, digits and '_', not starting with a digit. Fix: rename it in Pulumi.${stack}.yaml`,
            );
        } else if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
            read.problem(`${PROJECT}:env.${k}: ${show(v)} is not a scalar. Allowed: a string, number or boolean. Fix: ${read.fix(`env.${k}`, "<value>", { path: true })}`);
        } else if (SECRET_NAME.test(k)) {
            read.problem(
                `${PROJECT}:env.${k}: looks like a secret but is plain config (stored readable in Pulumi.${stack}.yaml and the ConfigMap). ` +
                    `Fix: pulumi config rm --path 'env.${k}' -s ${stack} && ${read.fix(k, "<value>", { secret: true })}, and add ${k} to secretEnv`,
            );
        } else {
            env[k] = String(v);
        }
    }

    const featureFlags: Record<string, boolean> = {};
    const byEnvName = new Map<string, string>();
    for (const [k, v] of Object.entries(read.map("featureFlags"))) {
        if (!FLAG_NAME.test(k)) {
            read.problem(`${PROJECT}:featureFlags.${k}: ${show(k)} is not a flag name. Allowed: a letter, then letters, digits or '_'. Fix: rename it in Pulumi.${stack}.yaml`);
            continue;
        }
        if (typeof v !== "boolean" && v !== "true" && v !== "false") {
            read.problem(`${PROJECT}:featureFlags.${k}: ${show(v)} is not a boolean. Allowed: true or false. Fix: ${read.fix(`featureFlags.${k}`, "true", { path: true })}`);
            continue;
        }
        const name = flagEnvName(k);
        const other = byEnvName.get(name);
        if (other !== undefined) {
            read.problem(
                `${PROJECT}:featureFlags.${k}: ${show(k)} and ${show(other)} are both stored as ${name}, so one would silently replace the other. ` +
                    `Allowed: flag names that differ once written as FLAG_<NAME>. Fix: pulumi config rm --path 'featureFlags.${k}' -s ${stack}, or rename one of them`,
            );
            continue;
        }
        if (name in env) {
            read.problem(
                `${PROJECT}:featureFlags.${k}: is stored as ${name}, which env.${name} also sets, so one would silently replace the other. ` +
                    `Fix: pulumi config rm --path 'env.${name}' -s ${stack}, or rename the flag`,
            );
            continue;
        }
        byEnvName.set(name, k);
        featureFlags[k] = v === true || v === "true";
    }
    return { env, featureFlags };
}
