import { defaultChecks } from "../../../smoke";
import type { SmokeRunInputs } from "../../../smoke/provider";

export const TOKEN = "tok-5e1d0a77c2";

/** Dynamic-resource inputs as the provider receives them, with a secret header. */
export function providerInputs(baseUrl: string, overrides: Partial<SmokeRunInputs> = {}): SmokeRunInputs {
    return {
        baseUrl,
        trigger: "trigger-1",
        checks: JSON.stringify(defaultChecks),
        timeoutMs: 2500,
        deadlineMs: 3000,
        intervalMs: 50,
        consecutivePasses: 2,
        runOnEveryUp: false,
        headers: { Authorization: `Bearer ${TOKEN}` },
        ...overrides,
    };
}
