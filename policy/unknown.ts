// Values the engine cannot know during `pulumi preview` (a name another resource assigns, an
// output not yet computed). @pulumi/policy hands props to a policy behind a proxy that throws
// UnknownValueError on reading such a field, and the engine then reports "can't run policy during
// preview" for the whole resource. The pack instead copies props into plain data once, marks each
// unknown field with UNKNOWN, and lets every check skip exactly the fields it cannot see: no false
// violation, no crash, and the known fields of the same resource are still judged.

/** A field whose value is not known yet (preview). Checks skip it, never report it. */
export const UNKNOWN: unique symbol = Symbol("unknown during preview");
export type Unknown = typeof UNKNOWN;

/**
 * The engine's wire sentinels for unknown values, one per type (sdk/go/common/resource/plugin/rpc.go,
 * `Unknown*Value`). The proxy normally hides them; they show when props reach a check unproxied.
 */
const SENTINELS: ReadonlySet<string> = new Set([
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", // bool
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421", // number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", // string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2", // array
    "030794c1-ac77-496b-92df-f27374a8bd58", // asset
    "e48ece36-62e2-4504-bad9-02848725956a", // archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff", // object
]);

export function isUnknown(value: unknown): value is Unknown {
    return value === UNKNOWN;
}

/** The proxy's error for an unknown read; matched by name because @pulumi/policy does not type it. */
function isUnknownValueError(err: unknown): boolean {
    return err instanceof Error && (err.constructor.name === "UnknownValueError" || / can't be known during preview$/.test(err.message));
}

/**
 * A deep plain copy of resource props: unknown fields become UNKNOWN, secrets their plaintext
 * (policies see secrets unwrapped anyway; a check never prints a value it flags).
 */
export function plain(value: unknown): unknown {
    if (typeof value === "string") return SENTINELS.has(value) ? UNKNOWN : value;
    if (value === null || typeof value !== "object") return value;
    // @pulumi/policy's Secret wrapper (only in remediation props): a `value` and nothing else.
    if (value.constructor?.name === "Secret" && "value" in value && Object.keys(value).length === 1) {
        return plain(value.value);
    }
    const read = (key: string): unknown => {
        try {
            return plain((value as Record<string, unknown>)[key]);
        } catch (err) {
            if (isUnknownValueError(err)) return UNKNOWN;
            throw err;
        }
    };
    if (Array.isArray(value)) {
        return Array.from({ length: value.length }, (_, i) => read(String(i)));
    }
    return Object.fromEntries(Object.keys(value).map((k) => [k, read(k)]));
}

/** True when the value, or anything inside it, is unknown. */
export function containsUnknown(value: unknown): boolean {
    if (value === UNKNOWN) return true;
    if (value === null || typeof value !== "object") return false;
    return Object.values(value).some(containsUnknown);
}
