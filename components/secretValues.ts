// Secret values never enter a render, a digest or a report: a rendered Secret holds a placeholder
// per key, and the component fills the values in when it hands the Secret to the provider.
import type { KubernetesObject } from "./manifestTypes";

/** What a rendered Secret holds in place of each value. */
export const SECRET_PLACEHOLDER = "<secret>";

/** stringData of a rendered Secret: each key with the placeholder. */
export function placeholders(keys: readonly string[]): Record<string, string> {
    return Object.fromEntries(keys.map((k) => [k, SECRET_PLACEHOLDER]));
}

/** The rendered Secret's stringData with each placeholder replaced by its value. */
export function fillSecret(secret: KubernetesObject, values: Readonly<Record<string, string>>): Record<string, string> {
    const data = secret["stringData"] as Record<string, string>;
    return Object.fromEntries(
        Object.entries(data).map(([k, placeholder]) => {
            const value = values[k];
            if (placeholder !== SECRET_PLACEHOLDER || value === undefined) throw new Error(`secret ${k}: no value to fill in`);
            return [k, value];
        }),
    );
}
