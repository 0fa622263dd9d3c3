// `progression <command>`: a thin dispatcher. Each command lives in its own module and exports
// `run(argv): Promise<number>` returning the process exit code (0 ok, 1 check failed, 2 usage).
import { UsageError } from "./args";

type Command = { run(argv: string[]): Promise<number> };
/**
 * The command table. A Map, not a plain object: a name typed by the user such as `constructor`
 * or `__proto__` must look up nothing, not a member every object inherits.
 */
export type Commands = ReadonlyMap<string, () => Command | Promise<Command>>;

// The commands, each in its own module named after it.
export const COMMAND_NAMES = ["smoke", "netcheck", "parity", "rollback"] as const;

// Each command is loaded only when asked for: `progression rollback` never loads the smoke checks'
// HTTP client. The imports are static, so the bundle bin/progression runs (dist/cli.js) holds every
// command, each initialised on its first use.
const LOADERS: Record<(typeof COMMAND_NAMES)[number], () => Promise<Command>> = {
    smoke: () => import("./smoke"),
    netcheck: () => import("./netcheck"),
    parity: () => import("./parity"),
    rollback: () => import("./rollback"),
};
export const COMMANDS: Commands = new Map(COMMAND_NAMES.map((name) => [name, LOADERS[name]]));

const usage = `usage: progression <command> [options]

commands:
  smoke <baseUrl>   run the smoke checks against a deployed app
  netcheck          evaluate NetworkPolicies as a connectivity matrix
  parity            compare the stacks' configuration against the parity rules
  rollback          return a stack's live traffic to its previous verified revision

Run 'progression <command> --help' for a command's options.`;

export async function main(argv: string[], commands: Commands = COMMANDS): Promise<number> {
    const [name, ...rest] = argv;
    if (name === undefined || name === "--help" || name === "-h") {
        (name === undefined ? process.stderr : process.stdout).write(usage + "\n");
        return name === undefined ? 2 : 0;
    }
    const load = commands.get(name);
    if (load === undefined) {
        process.stderr.write(`progression: unknown command '${name}'; expected one of: ${[...commands.keys()].join(", ")}\n\n${usage}\n`);
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

/** The `progression` process (bin/progression): runs the command its arguments name and sets the exit code. */
export function runProcess(): void {
    main(process.argv.slice(2)).then(
        (code) => { process.exitCode = code; },
        (err: unknown) => {
            // Every expected failure is reported above with its fix; this is a bug, so the stack
            // trace is there on request rather than in every user's face.
            const debug = process.env["PROGRESSION_DEBUG"] === "1";
            const text = err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err);
            process.stderr.write(`progression: unexpected error: ${text}${debug ? "" : " (PROGRESSION_DEBUG=1 shows the stack trace)"}\n`);
            process.exitCode = 2;
        },
    );
}
