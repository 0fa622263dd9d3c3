// A valid raw config per environment, for the config tests: each test breaks one thing.
import { expect } from "vitest";
import { ConfigError, type RawConfig, validateConfig } from "../../config/schema";

export const DIGEST = "sha256:" + "ab".repeat(32);

/** The secrets Pulumi.yaml declares `secret: true`. */
export const DECLARED = new Set(["DATABASE_URL", "API_TOKEN"]);

/** A valid staging config (values as the engine hands them: text), with `overrides` on top; `undefined` removes a key. */
export function staging(overrides: Record<string, unknown> = {}, secretKeys = ["DATABASE_URL"]): RawConfig {
    const values: Record<string, unknown> = {
        environment: "staging",
        kubeContext: "staging",
        image: `registry.example.com/web:1.2.3@${DIGEST}`,
        replicas: "3",
        secretEnv: ["DATABASE_URL"],
        DATABASE_URL: "<secret>",
        smokeBaseUrl: "https://staging.web.example.com",
        smokePreviewUrl: "https://preview.staging.web.example.com",
        ...overrides,
    };
    for (const [k, v] of Object.entries(values)) if (v === undefined) delete values[k];
    return { values, secretKeys: new Set(secretKeys), declaredSecrets: DECLARED };
}

/** Every problem validateConfig reports, in order; [] when it accepts. */
export function problemsOf(raw: RawConfig, stack = "staging"): string[] {
    try {
        validateConfig(raw, stack);
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return [...(err as ConfigError).problems];
    }
    return [];
}
