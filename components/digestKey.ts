// DigestKey: 32 random bytes made once per stack and kept in its state as a secret, the key of
// every keyed digest the stack publishes (the smoke trigger's digest of secret values). Without
// the key, such a digest says nothing about a value, however short or guessable the value is.
//
// It is a dynamic resource, and so follows rule 1 of components/serializedProvider.ts: create (and
// diff) only, never read or delete. It needs no logic file: Node's own crypto is all it uses.
import * as pulumi from "@pulumi/pulumi";

export interface DigestKeyOutputs {
    /** 64 hex characters. */
    readonly key: string;
}

/** The serialized provider: self-contained, nothing captured but `require`. Exported for tests. */
export const digestKeyProvider: pulumi.dynamic.ResourceProvider<Record<string, never>, DigestKeyOutputs> = {
    create() {
        // `require` inside the method: the closure serializer leaves it free, so it resolves in
        // the provider process. Only Node's own crypto is needed there.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { randomBytes } = require("node:crypto") as typeof import("node:crypto");
        return Promise.resolve({ id: "digest-key", outs: { key: randomBytes(32).toString("hex") } });
    },
    // A key never changes: a new one would re-run every check once and mean nothing else.
    diff() {
        return Promise.resolve({ changes: false });
    },
};

export class DigestKey extends pulumi.dynamic.Resource {
    /** The key, a secret output. */
    declare public readonly key: pulumi.Output<string>;

    constructor(name: string, opts?: pulumi.CustomResourceOptions) {
        super(digestKeyProvider, name, { key: undefined }, { ...opts, additionalSecretOutputs: ["key"] }, "progression", "DigestKey");
    }
}
