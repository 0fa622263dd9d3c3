// Image references and what each environment requires of them; config validation and the policy
// pack's image-pinned rule share these.
import { ENVIRONMENT_RULES, type EnvironmentName } from "./environments";

/** What is wrong with an image reference for an environment; empty when it is acceptable. */
export function imageProblems(image: string, environment: EnvironmentName): string[] {
    const rules = ENVIRONMENT_RULES[environment];
    const { tag, digest } = parseImage(image);
    const problems: string[] = [];
    if (/\s/.test(image) || image.length === 0) {
        return [`${JSON.stringify(image)} is not an image reference.`];
    }
    if (rules.requireImageTag && digest === undefined && (tag === undefined || tag === "latest")) {
        problems.push(
            `${JSON.stringify(image)} is ${tag === "latest" ? "tagged latest" : "untagged (which means latest)"}; ${environment} must run an exact version. Allowed: an explicit version tag${rules.requireImageDigest ? " and a digest" : " or a digest"}.`,
        );
    } else if (rules.requireImageDigest && digest === undefined) {
        problems.push(`${JSON.stringify(image)} has no digest; ${environment} runs exactly the bytes staging verified. Allowed: name:tag@sha256:<64 hex>.`);
    }
    if (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest)) {
        problems.push(`${JSON.stringify(image)} has a malformed digest ${JSON.stringify(digest)}. Allowed: sha256: followed by 64 lower-case hex digits.`);
    }
    return problems;
}

/** Splits an image reference into name, tag and digest (a registry port is not a tag). */
export function parseImage(image: string): { name: string; tag: string | undefined; digest: string | undefined } {
    const at = image.indexOf("@");
    const digest = at >= 0 ? image.slice(at + 1) : undefined;
    const rest = at >= 0 ? image.slice(0, at) : image;
    const slash = rest.lastIndexOf("/");
    const colon = rest.lastIndexOf(":");
    const tag = colon > slash ? rest.slice(colon + 1) : undefined;
    return { name: colon > slash ? rest.slice(0, colon) : rest, tag, digest };
}
