// The program's dynamic providers (SmokeRun, MigrationRun, LiveSwitch) are serialized into state
// and run by a separate Node process, `pulumi-resource-pulumi-nodejs`, with no TypeScript loader.
// They share these rules, and this module is how each is built:
//   1. create, update and diff only; never `read` or `delete`. create, update and diff run the
//      text of the program being deployed, but refresh (`read`) and destroy or removal (`delete`)
//      run the text saved in state by an earlier program, with that program's absolute paths: a
//      moved checkout, a CI runner or a colleague's machine would load a file that is not there.
//      Without them, refresh keeps the state as it is and delete just forgets the resource; what
//      such a resource leaves in the cluster lives in the environment's namespace, which the
//      stack deletes.
//   2. Capture paths, not code: the text holds two absolute paths (the logic file and tsx's
//      require API) and loads the logic through tsx inside each method, so undici, the Kubernetes
//      client, the engine and any secret stay out of state.
//   3. Run from the sources, never from a compiled `dist/`: the logic file is TypeScript beside
//      the program. A component refuses to register a resource when the file is missing
//      (providerLogicProblem), instead of failing later in the provider process.
// tests/smoke/provider-serialized.test.ts runs the serialized text the way the engine does.
import * as fs from "node:fs";
import { createRequire } from "node:module";
import type * as pulumi from "@pulumi/pulumi";

/** What a logic file exports as `logic`: the provider's methods on plain objects. */
export interface ProviderLogic<I, O> {
    create(inputs: I): Promise<{ id: string; outs: O }>;
    update(id: string, olds: O, news: I): Promise<{ outs: O }>;
    diff(id: string, olds: O, news: I): { changes: boolean; replaces: string[] };
}

const TSX_API = createRequire(__filename).resolve("tsx/cjs/api");

/** The serialized provider for the logic in `logicFile`: thin delegates that load it when called. */
export function serializedProvider<I, O>(logicFile: string): pulumi.dynamic.ResourceProvider<I, O> {
    const tsxApi = TSX_API;
    const load = (): ProviderLogic<I, O> => {
        // `require`, not `import`: the closure serializer leaves `require` free, so it resolves in
        // the provider process at call time.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const tsx = require(tsxApi) as { require(id: string, fromFile: string): unknown };
        return (tsx.require(logicFile, logicFile) as { logic: ProviderLogic<I, O> }).logic;
    };
    return {
        async create(inputs) {
            return load().create(inputs);
        },
        async update(id, olds, news) {
            return load().update(id, olds, news);
        },
        diff(id, olds, news) {
            return Promise.resolve(load().diff(id, olds, news));
        },
    };
}

/** Rule 3: the logic must exist as a TypeScript source where the serialized text will look. Returns the problem, or undefined. */
export function providerLogicProblem(file: string): string | undefined {
    if (file.endsWith(".ts") && fs.existsSync(file)) return undefined;
    return (
        `the provider's logic ${file} does not exist, so the serialized provider could not load it. ` +
        "The program runs from its TypeScript sources (Pulumi.yaml main: the repository); a compiled dist/ has no such file. Fix: point main at the sources"
    );
}
