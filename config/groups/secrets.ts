// Secrets: the stack secrets the app mounts, one env var each, from its Secret. A secret's value
// is never read here, only whether it is set and stored encrypted.
//
// The engine refuses a plaintext value for a key Pulumi.yaml declares `secret: true` (it needs a
// `type` to check it), before the program runs. So every name in secretEnv must be declared
// there: undeclared, nothing would stop its value being committed in the clear. A declared
// secret cannot carry a default (the engine would apply it in plaintext and refuse it), so the
// engine also requires it on every stack, and reports a missing one itself.
import { type ConfigReader, PROJECT, show } from "../reader";
import { ENV_VAR_NAME } from "./envFlags";

/** Keys: secretEnv (and the secrets it names). Returns the names, in order. */
export function validateSecrets(read: ConfigReader): string[] {
    const { stack, raw } = read;
    const declared = raw.declaredSecrets ?? new Set<string>();
    const names: string[] = [];
    for (const name of read.list("secretEnv")) {
        if (typeof name !== "string" || !ENV_VAR_NAME.test(name)) {
            read.problem(`${PROJECT}:secretEnv: ${show(name)} is not an environment variable name. Allowed: letters, digits and '_'. Fix: edit secretEnv in Pulumi.${stack}.yaml`);
            continue;
        }
        if (names.includes(name)) {
            read.problem(`${PROJECT}:secretEnv: ${show(name)} is listed twice. Fix: remove one in Pulumi.${stack}.yaml`);
            continue;
        }
        names.push(name);
        if (!declared.has(name)) {
            read.problem(
                `${PROJECT}:secretEnv: ${name} is not declared in Pulumi.yaml with secret: true, so nothing stops its value being stored in plaintext. ` +
                    `Fix: add to Pulumi.yaml under config: "${name}: { type: string, secret: true }"`,
            );
        }
        if (!read.has(name)) {
            read.problem(`${PROJECT}:${name} is a secret the app needs (listed in secretEnv) but is not set for stack '${stack}'. Fix: ${read.fix(name, "<value>", { secret: true })}`);
        } else if (read.storedInPlaintext(name)) {
            read.problem(
                `${PROJECT}:${name} is stored in plaintext in Pulumi.${stack}.yaml, but it is a secret (listed in secretEnv). ` +
                    `Fix: ${read.fix(name, "<value>", { secret: true })} (this encrypts it), and rotate the value: it was readable in the file`,
            );
        }
    }
    return names;
}
