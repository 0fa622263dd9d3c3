// `progression <command>`: a thin dispatcher. Each command lives in its own module and exports
// `run(argv): Promise<number>` returning the process exit code (0 ok, 1 check failed, 2 usage).
import { UsageError } from "./args";

const commands: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
    smoke: () => import("./smoke"),
    netcheck: () => import("./netcheck"),
    parity: () => import("./parity"),
};

const usage = `usage: progression <command> [options]

commands:
  smoke <baseUrl>   run the smoke checks against a deployed app
  netcheck          evaluate NetworkPolicies as a connectivity matrix
  parity            compare the stacks' configuration against the parity rules

Run 'progression <command> --help' for a command's options.`;

export async function main(argv: string[]): Promise<number> {
    const [name, ...rest] = argv;
    if (name === undefined || name === "--help" || name === "-h") {
        (name === undefined ? process.stderr : process.stdout).write(usage + "\n");
        return name === undefined ? 2 : 0;
    }
    const load = commands[name];
    if (!load) {
        process.stderr.write(`progression: unknown command '${name}'; expected one of: ${Object.keys(commands).join(", ")}\n\n${usage}\n`);
        return 2;
    }
    try {
        return await (await load()).run(rest);
    } catch (err) {
        if (err instanceof UsageError) {
            process.stderr.write(`progression ${name}: ${err.message}\n`);
            return 2;
        }
        throw err;
    }
}

if (require.main === module || process.argv[1]?.endsWith("bin/progression")) {
    main(process.argv.slice(2)).then(
        (code) => { process.exitCode = code; },
        (err: unknown) => {
            process.stderr.write(`progression: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
            process.exitCode = 2;
        },
    );
}
