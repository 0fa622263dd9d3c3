// DigestKey: 32 random bytes made once per stack and kept in its state as a secret, the key of
// every keyed digest the stack publishes (the smoke trigger's digest of secret values). Without
// the key, such a digest says nothing about a value, however short or guessable the value is.
//
// It is a dynamic resource, and so follows rule 1 of components/serializedProvider.ts: create (and
// diff) only, never read or delete.
import type * as pulumi from "../resources/pulumi";
import { DynamicResource } from "./serializedProvider";

export interface DigestKeyOutputs {
    /** 64 hex characters. */
    readonly key: string;
}

/**
 * The provider text (rule 2 of components/serializedProvider.ts holds trivially: it needs no
 * bundle, Node's own crypto is all it uses). A key never changes: a new one would re-run every
 * check once and mean nothing else. Exported for tests.
 */
export const digestKeyProvider = [
    "exports.handler = () => ({",
    '    create: async () => ({ id: "digest-key", outs: { key: require("node:crypto").randomBytes(32).toString("hex") } }),',
    "    diff: async () => ({ changes: false }),",
    "});",
    "",
].join("\n");

export class DigestKey extends DynamicResource {
    /** The key, a secret output. */
    declare public readonly key: pulumi.Output<string>;

    constructor(name: string, opts?: pulumi.CustomResourceOptions) {
        super("DigestKey", digestKeyProvider, name, { key: undefined }, { ...opts, additionalSecretOutputs: ["key"] });
    }
}
