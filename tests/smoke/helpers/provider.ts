import { defaultChecks } from "../../../smoke";
import type { ChecksRunInputs, CommandRunInputs } from "../../../smoke/provider";
import { REPO } from "./servers";

export const TOKEN = "tok-5e1d0a77c2";

/** Dynamic-resource inputs as the provider receives them, with a secret header. */
export function providerInputs(baseUrl: string, overrides: Partial<ChecksRunInputs> = {}): ChecksRunInputs {
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

/** Command-mode inputs as the provider receives them; cwd is the repository, as under `pulumi up`. */
export function commandInputs(command: string, overrides: Partial<CommandRunInputs> = {}): CommandRunInputs {
    return {
        baseUrl: "http://app.test:8080",
        trigger: "trigger-1",
        command,
        cwd: REPO,
        deadlineMs: 10_000,
        runOnEveryUp: false,
        ...overrides,
    };
}
