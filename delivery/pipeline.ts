// `npm run pipeline`: a workflow's jobs run here, in the workflow's order, against the local
// cluster. The jobs and their commands are read from the workflow file itself, so this dry run and
// CI cannot drift apart; the demo's driver (tests/harness/local.ts) provides the engine, the cluster,
// the state backend and the reference apps the smoke checks call.
//
//   npm run pipeline                                  main.yml: the tests, the pack, then up dev, staging,
//                                                     and prod after parity
//   npm run pipeline -- --fail staging=db             staging's app fails its smoke check: staging's
//                                                     up fails and prod is skipped, as on GitHub
//   npm run pipeline -- --skip-job test               the same without the test job (just run them)
//   npm run pipeline -- --workflow pull-request       the tests, then a preview of every stack
//   npm run pipeline -- --workflow promote --input stack=prod [--input commit=SHA]
//   npm run pipeline -- --plan                        print the commands, run nothing
//
// The work is in delivery/pipeline/: model.ts (the plan's shapes), expressions.ts (`${{ }}` and
// `if:`), plan.ts (the workflow file read as a plan), run.ts (the jobs in order), local.ts (the
// local cluster, stacks and step runner) and cli.ts (the command line).
import { main } from "./pipeline/cli";
import { PipelineError } from "./pipeline/model";

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err: unknown) => {
            process.stderr.write(`pipeline: ${err instanceof PipelineError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
            process.exitCode = err instanceof PipelineError ? 2 : 1;
        },
    );
}
