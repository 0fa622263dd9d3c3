// toolchain/run's installs, on a scratch copy of the script whose toolchain/node.sh names a folder
// with a stand-in `npm`: each npm project whose node_modules is older than its lock file installs,
// the two side by side, and a failed install stops the command.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const REPO = path.resolve(__dirname, "../..");
let root: string;

beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "toolchain-run-"));
    fs.mkdirSync(path.join(root, "toolchain"));
    fs.copyFileSync(path.join(REPO, "toolchain", "run"), path.join(root, "toolchain", "run"));
    fs.chmodSync(path.join(root, "toolchain", "run"), 0o755);
    const bin = path.join(root, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(root, "toolchain", "node.sh"), `#!/usr/bin/env bash\necho ${bin}\n`, { mode: 0o755 });
    // The stand-in logs when it starts and ends in which folder, takes 0.5 s, and leaves the stamp
    // npm ci leaves; in a folder holding a file named FAIL it fails instead.
    fs.writeFileSync(
        path.join(bin, "npm"),
        [
            "#!/usr/bin/env bash",
            `echo "start $PWD" >> ${path.join(root, "log")}`,
            "sleep 0.5",
            "[ -f FAIL ] && exit 3",
            "mkdir -p node_modules && touch node_modules/.package-lock.json",
            `echo "end $PWD" >> ${path.join(root, "log")}`,
        ].join("\n"),
        { mode: 0o755 },
    );
    for (const dir of [root, path.join(root, "delivery", "deployments")]) {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "package-lock.json"), "{}\n");
    }
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const run = () => spawnSync(path.join(root, "toolchain", "run"), ["sh", "-c", "echo ran"], { encoding: "utf8" });
const log = () => (fs.existsSync(path.join(root, "log")) ? fs.readFileSync(path.join(root, "log"), "utf8").trim().split("\n") : []);

describe("toolchain/run", () => {
    it("installs both npm projects side by side, then runs the command; installs nothing once they are current", () => {
        const first = run();
        expect(first.status, first.stderr).toBe(0);
        expect(first.stdout).toBe("ran\n");
        // Both started before either ended.
        expect(log().slice(0, 2).every((l) => l.startsWith("start "))).toBe(true);
        expect(log().filter((l) => l.startsWith("end ")).length).toBe(2);
        fs.rmSync(path.join(root, "log"));
        expect(run().stdout).toBe("ran\n");
        expect(log()).toEqual([]);
    });

    it("stops with the failed install's status and does not run the command", () => {
        fs.writeFileSync(path.join(root, "delivery", "deployments", "FAIL"), "");
        const r = run();
        expect(r.status).toBe(3);
        expect(r.stdout).toBe("");
    });
});
